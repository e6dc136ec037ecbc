import yauzl from 'yauzl';
import type { Readable } from 'node:stream';
import { SupervisorError, showValue } from '../../core/errors.js';
import type { ExtractSink } from './extract-sink.js';
import { PACKAGE_ERROR } from './limits.js';

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
// Made-by host 3 is Unix: only then do the high 16 bits of the external attributes hold st_mode.
const HOST_UNIX = 3;
// A link target longer than PATH_MAX is not a link target.
const MAX_LINK_TARGET = 4096;

/** Extracts a .zip into the sink; yauzl reads names raw so that our own checks, with our codes, apply. */
export async function extractZip(file: string, sink: ExtractSink): Promise<void> {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(file, { lazyEntries: true, decodeStrings: false, validateEntrySizes: true, autoClose: false });
  } catch (err) {
    throw new SupervisorError(PACKAGE_ERROR.format, `not a readable zip: ${(err as Error).message}`, {}, { cause: err });
  }
  try {
    const entries = zip.eachEntry();
    for (;;) {
      let next: IteratorResult<yauzl.Entry>;
      try { next = await entries.next(); } catch (err) {
        throw new SupervisorError(PACKAGE_ERROR.format, `corrupt zip: ${(err as Error).message}`, {}, { cause: err });
      }
      if (next.done) break;
      await extractEntry(zip, next.value, sink);
    }
  } finally {
    zip.close();
  }
}

async function extractEntry(zip: yauzl.ZipFile, entry: yauzl.Entry, sink: ExtractSink): Promise<void> {
  // Backslashes become slashes, as yauzl does for names written on Windows.
  const name = yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, false);
  sink.countEntry(name);
  const mode = (entry.versionMadeBy >> 8) === HOST_UNIX ? entry.externalFileAttributes >>> 16 : 0;
  const type = mode & S_IFMT;
  const perm = type === 0 ? undefined : mode & 0o7777;
  if (type === S_IFDIR || (type === 0 && name.endsWith('/'))) return sink.directory(name, perm);
  if (type !== 0 && type !== S_IFREG && type !== S_IFLNK) {
    throw new SupervisorError(PACKAGE_ERROR.format, `entry ${showValue(name)} is a device, fifo or socket (mode ${mode.toString(8)})`,
      { entry: name, value: mode });
  }
  if (entry.isEncrypted()) {
    throw new SupervisorError(PACKAGE_ERROR.format, `entry ${showValue(name)} is encrypted`, { entry: name });
  }
  const stream = await openEntry(zip, entry, name);
  if (type === S_IFLNK) return sink.symlink(name, await readLinkTarget(stream, name));
  return sink.file(name, perm, stream);
}

async function openEntry(zip: yauzl.ZipFile, entry: yauzl.Entry, name: string): Promise<Readable> {
  try {
    return await zip.openReadStreamPromise(entry);
  } catch (err) {
    throw new SupervisorError(PACKAGE_ERROR.format, `entry ${showValue(name)} cannot be read: ${(err as Error).message}`,
      { entry: name }, { cause: err });
  }
}

async function readLinkTarget(stream: Readable, name: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > MAX_LINK_TARGET) {
      stream.destroy();
      throw new SupervisorError(PACKAGE_ERROR.format, `symbolic link ${showValue(name)} has a target over ${MAX_LINK_TARGET} bytes`,
        { entry: name });
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
