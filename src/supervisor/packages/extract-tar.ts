import { createReadStream } from 'node:fs';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { SupervisorError, showValue } from '../../core/errors.js';
import type { ExtractSink } from './extract-sink.js';
import { PACKAGE_ERROR } from './limits.js';

/**
 * Extracts a .tar.gz into the sink. node-tar's Parser only splits the stream into entries;
 * every path, link and type decision is ours. `maxTarBytes` bounds the decompressed stream
 * itself, so a bomb of headers or padding stops as early as a bomb of file content.
 */
export async function extractTarGz(file: string, sink: ExtractSink, maxTarBytes: number): Promise<void> {
  const parser = new Parser({ strict: true });
  const feed = new AbortController();
  let failure: unknown;
  let current: ReadEntry | undefined;
  let chain: Promise<void> = Promise.resolve();

  let settle!: { resolve: () => void; reject: (err: unknown) => void };
  const parsed = new Promise<void>((resolve, reject) => { settle = { resolve, reject }; });
  parsed.catch(() => undefined);
  const fail = (err: unknown): void => {
    if (failure !== undefined) return;
    failure = err;
    feed.abort();
    current?.destroy(err instanceof Error ? err : new Error(String(err)));
    settle.reject(err);
  };
  parser.on('entry', (entry: ReadEntry) => {
    // Errors of an entry stream reach us through the sink's pipeline; this keeps them from being unhandled.
    entry.on('error', () => undefined);
    chain = chain.then(async () => {
      if (failure !== undefined) { entry.resume(); return; }
      current = entry;
      try { await extractEntry(entry, sink); } finally { current = undefined; }
    }).catch(fail);
  });
  parser.on('ignoredEntry', (entry: ReadEntry) => {
    fail(new SupervisorError(PACKAGE_ERROR.format, `entry ${showValue(entry.path)} has an unsupported type ${showValue(entry.type)}`,
      { entry: entry.path, value: entry.type }));
  });
  parser.on('error', (err: Error) => {
    fail(new SupervisorError(PACKAGE_ERROR.format, `corrupt tar: ${err.message}`, {}, { cause: err }));
  });
  parser.on('end', () => { chain.then(() => settle.resolve(), fail); });

  let decompressed = 0;
  const cap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      decompressed += chunk.length;
      if (decompressed > maxTarBytes) {
        return done(new SupervisorError(PACKAGE_ERROR.tooLarge, `tar stream larger than ${maxTarBytes} bytes once decompressed`,
          { limit: maxTarBytes }));
      }
      done(null, chunk);
    },
  });
  // The Parser is not a stream.Writable: respect its write() return value and 'drain'.
  const intoParser = new Writable({
    write(chunk: Buffer, _enc, done) {
      if (parser.write(chunk)) done();
      else parser.once('drain', () => done());
    },
    final(done) { parser.end(); done(); },
  });
  const fed = pipeline(createReadStream(file), createGunzip(), cap, intoParser, { signal: feed.signal }).catch((err: unknown) => {
    fail(err instanceof SupervisorError ? err
      : new SupervisorError(PACKAGE_ERROR.format, `corrupt gzip or tar stream: ${(err as Error).message}`, {}, { cause: err }));
  });

  await Promise.allSettled([fed, parsed]);
  // Nothing may still be writing when the caller removes the staging folder.
  await chain;
  if (failure !== undefined) throw failure;
}

async function extractEntry(entry: ReadEntry, sink: ExtractSink): Promise<void> {
  const name = entry.path;
  sink.countEntry(name);
  switch (entry.type) {
    case 'File':
    case 'OldFile':
    case 'ContiguousFile':
      // Minipass is async-iterable with backpressure; wrap it as the node Readable the sink pipes.
      return sink.file(name, entry.mode, Readable.from(entry, { objectMode: false }));
    case 'Directory':
    case 'GNUDumpDir':
      entry.resume();
      return sink.directory(name, entry.mode);
    case 'SymbolicLink':
      entry.resume();
      return sink.symlink(name, entry.linkpath ?? '');
    case 'Link':
      entry.resume();
      return sink.hardlink(name, entry.linkpath ?? '');
    default:
      entry.resume();
      throw new SupervisorError(PACKAGE_ERROR.format, `entry ${showValue(name)} is a ${entry.type} (devices and fifos are refused)`,
        { entry: name, value: entry.type });
  }
}
