/**
 * Reading extension status files (CONTRACT section 6): which files a handler has, one
 * bounded read of each, and when the next read may happen. The actor around it
 * (src/actors/status-actor.ts) owns the watching, timers and events.
 */
import { resolve } from 'node:path';
import {
  MAX_STATUS_FILE_BYTES, STATUS_FILE_MALFORMED_CODE, missingStatus, parseStatusFile, truncateStatus, type ExtensionStatus,
} from '../../protocol/status-file.js';
import { DEFAULT_SEQUENCE_NUMBER, statusFileName } from '../../protocol/settings.js';
import { openRegular, withReadTimeout } from '../../storage/handler-file.js';
import { ErrorCodes } from '../lifecycle/error-codes.js';
import { closeJsonPrefix } from './json-prefix.js';
import type { WatchSpec } from './types.js';

/** Never read more than this of a status file: a runaway handler must not make us allocate its whole file. */
export const STATUS_READ_LIMIT = 1024 * 1024;
/** The extension name reported for a handler without extensions (as prepare writes its 0.settings). */
export const DEFAULT_EXTENSION_NAME = 'default';

/** One status file a handler is expected to write. */
export interface StatusTarget {
  readonly extension: string;
  readonly sequenceNumber: number;
  /** Absolute, normalised path of the status file (watcher events are compared with it). */
  readonly file: string;
}

/** The status files of a handler: one per extension, or `0.status` when it has none. Throws E_BAD_FILE_NAME for an unsafe name. */
export function statusTargets(spec: WatchSpec): StatusTarget[] {
  const extensions = spec.extensions.length > 0
    ? spec.extensions
    : [{ name: DEFAULT_EXTENSION_NAME, sequenceNumber: DEFAULT_SEQUENCE_NUMBER }];
  return extensions.map((ext) => ({
    extension: ext.name,
    sequenceNumber: ext.sequenceNumber,
    file: resolve(spec.statusFolder, statusFileName(ext.name, ext.sequenceNumber, spec.multiConfig)),
  }));
}

/** Options for one status read. */
export interface ReadStatusOptions {
  /** Bytes read at most (default STATUS_READ_LIMIT); beyond it the start is salvaged and reported truncated. */
  readonly readLimit?: number;
  /** The truncation cap of parseStatusFile (default 128 KiB). */
  readonly maxBytes?: number;
}

/**
 * Reads and parses one status file, never throwing: missing → transitioning, malformed →
 * error 1012 with the start of the content, unreadable → error 1000 naming the reason,
 * over the read limit → its complete start, truncated.
 */
export async function readExtensionStatus(file: string, opts: ReadStatusOptions = {}): Promise<ExtensionStatus> {
  const readLimit = opts.readLimit ?? STATUS_READ_LIMIT;
  const maxBytes = opts.maxBytes ?? MAX_STATUS_FILE_BYTES;
  let data: { bytes: Buffer; size: number };
  try {
    data = await withReadTimeout(file, readBounded(file, readLimit));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return missingStatus();
    return unreadable(`cannot read status file ${file}: ${(err as Error).message}`);
  }
  if (data.bytes.byteLength <= readLimit) return parseStatusFile(data.bytes, file, { maxBytes }).status;
  return salvage(file, data.bytes.subarray(0, readLimit), data.size, maxBytes);
}

/** Reads at most limit + 1 bytes (the extra byte tells "exactly at the limit" from "over it"). */
async function readBounded(file: string, limit: number): Promise<{ bytes: Buffer; size: number }> {
  // A FIFO or link planted as a status file must not hang the collector in open() nor lead it elsewhere.
  const { handle, stats } = await openRegular(file);
  try {
    const size = stats.size;
    // A file still growing is read as far as this buffer goes; its next write brings another read.
    const bytes = Buffer.allocUnsafe(Math.min(size, limit) + 1);
    let used = 0;
    while (used < bytes.length) {
      const { bytesRead } = await handle.read(bytes, used, bytes.length - used, used);
      if (bytesRead === 0) break;
      used += bytesRead;
    }
    return { bytes: bytes.subarray(0, used), size: Math.max(size, used) };
  } finally {
    await handle.close();
  }
}

/** An over-limit file: the part read is closed at its last complete element and parsed as an oversized status. */
function salvage(file: string, head: Buffer, size: number, maxBytes: number): ExtensionStatus {
  const closed = closeJsonPrefix(head.toString('utf8'));
  const limitNote = `only the first ${head.byteLength} of ${size} bytes were read`;
  if (closed !== null) {
    const result = parseStatusFile(closed, file, { maxBytes });
    // The file itself is over the cap even when the salvaged start is not: the agent's truncation applies.
    if (result.ok) return freezeStatus({ ...truncateStatus(result.status, maxBytes), truncated: true });
  }
  const parsed = parseStatusFile(head, file, { maxBytes });
  const message = `${parsed.ok ? `status file ${file} is malformed` : parsed.status.message} (${limitNote})`;
  return freezeStatus({ ...missingStatus(), status: 'error', code: STATUS_FILE_MALFORMED_CODE, message });
}

function unreadable(message: string): ExtensionStatus {
  return freezeStatus({ ...missingStatus(), status: 'error', code: ErrorCodes.processing, message });
}

function freezeStatus(status: ExtensionStatus): ExtensionStatus {
  return Object.freeze({ ...status, substatus: Object.freeze(status.substatus.map((s) => Object.freeze({ ...s }))) });
}

/**
 * When the next read of a file that just changed may run: after `settleMs` (a writer that
 * truncates then writes is not caught half-way) and never sooner than `minIntervalMs`
 * after the previous read, so a file rewritten 10 times a second is read at most 1000/minIntervalMs times a second.
 */
export function nextReadDelay(now: number, lastReadAt: number, settleMs: number, minIntervalMs: number): number {
  return Math.max(settleMs, lastReadAt + minIntervalMs - now);
}
