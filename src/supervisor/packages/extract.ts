import { open } from 'node:fs/promises';
import { SupervisorError } from '../../core/errors.js';
import { ExtractSink } from './extract-sink.js';
import { extractZip } from './extract-zip.js';
import { PACKAGE_ERROR } from './limits.js';

export type ArchiveFormat = 'zip' | 'tar.gz';

/** What extraction may cost; a subset of PackageLimits so it can cross into a worker as plain data. */
export interface ExtractLimits {
  readonly maxEntries: number;
  readonly maxUncompressedBytes: number;
}

export interface ExtractResult {
  readonly format: ArchiveFormat;
  readonly entries: number;
  readonly bytes: number;
}

// Headers and padding a tar stream may add per entry (header + pax header + padding, generously).
const TAR_OVERHEAD_PER_ENTRY = 2048;

/** Tells the format from the first bytes (never from a uri suffix): PK\x03\x04 is zip, 1f 8b is gzip. */
export async function detectFormat(file: string): Promise<ArchiveFormat> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(4);
    const { bytesRead } = await fh.read(head, 0, 4, 0);
    if (bytesRead >= 4 && head.readUInt32BE(0) === 0x504b0304) return 'zip';
    // An empty zip (no entries) starts with the end-of-central-directory record.
    if (bytesRead >= 4 && head.readUInt32BE(0) === 0x504b0506) return 'zip';
    if (bytesRead >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'tar.gz';
    throw new SupervisorError(PACKAGE_ERROR.format,
      `not a .zip or .tar.gz package (first bytes ${head.subarray(0, bytesRead).toString('hex') || 'none'})`,
      { value: head.subarray(0, bytesRead).toString('hex') });
  } finally {
    await fh.close();
  }
}

/** Extracts `file` into the existing folder `dest`, enforcing every package check; `aborted` is polled. */
export async function extractArchive(file: string, dest: string, limits: ExtractLimits, aborted: () => boolean = () => false):
  Promise<ExtractResult> {
  const format = await detectFormat(file);
  const sink = new ExtractSink(dest, { ...limits, aborted });
  if (format === 'zip') await extractZip(file, sink);
  else {
    const maxTarBytes = limits.maxUncompressedBytes + (limits.maxEntries + 2) * TAR_OVERHEAD_PER_ENTRY;
    // Loaded with the first .tar.gz: the tar module is ~5 MB of a daemon's memory that a fleet of zips never uses.
    const { extractTarGz } = await import('./extract-tar.js');
    await extractTarGz(file, sink, maxTarBytes);
  }
  await sink.finish();
  return { format, entries: sink.entries, bytes: sink.bytes };
}
