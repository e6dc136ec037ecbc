/**
 * Reading heartbeat.log (CONTRACT section 6): one synchronous read through one descriptor, so
 * the stamp and the content belong together; a stat to tell whether it changed. Shared by the
 * heartbeat watchdog and the offline view.
 */
import { closeSync, lstatSync, readSync, type Stats } from 'node:fs';
import { openRegularSync } from '../../storage/handler-file.js';
import { parseHeartbeat, type HeartbeatResult } from '../../protocol/heartbeat.js';
import type { FileStamp, HeartbeatRead } from './heartbeat-tracker.js';

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** The bytes last parsed for one file and what they said: a rewrite with the same bytes is not parsed again. */
export interface ParsedContent {
  current: { readonly bytes: Buffer; readonly result: HeartbeatResult } | null;
}

// One buffer for every read: the reads are synchronous, so they never overlap.
let scratch = Buffer.allocUnsafe(0);

/**
 * Reads heartbeat.log once through one descriptor, so the stamp and the content belong together.
 * Synchronous: a file of at most `limit` bytes in the handler's own folder, read 100 times a second
 * with 1000 handlers; four thread-pool round trips per read cost more than the read (docs/decisions.md).
 * With `parsed`, content identical to the last read's reuses its result (most beats rewrite the same bytes).
 */
export function readHeartbeatNow(file: string, limit = 64 * 1024, parsed?: ParsedContent): HeartbeatRead {
  let fd: number;
  let st: Stats;
  try {
    // Never blocks, never follows a link, only a regular file: a FIFO here once held the main thread in open().
    ({ fd, stats: st } = openRegularSync(file));
  } catch (err) {
    return isMissing(err) ? { kind: 'absent' } : { kind: 'unreadable', problem: `cannot open ${file}: ${(err as Error).message}` };
  }
  try {
    const stamp: FileStamp = { mtimeMs: st.mtimeMs, size: st.size, ino: st.ino };
    const want = Math.min(st.size, limit) + 1;
    if (scratch.length < want) scratch = Buffer.allocUnsafe(Math.max(want, 4096));
    const bytesRead = readSync(fd, scratch, 0, want, 0);
    if (bytesRead > limit) return { kind: 'read', stamp, result: { ok: false, problem: `heartbeat file ${file} is malformed: larger than ${limit} bytes` } };
    const bytes = scratch.subarray(0, bytesRead);
    const last = parsed?.current;
    if (last && last.bytes.equals(bytes)) return { kind: 'read', stamp, result: last.result };
    const result = parseHeartbeat(bytes, file);
    if (parsed) parsed.current = { bytes: Buffer.from(bytes), result };
    return { kind: 'read', stamp, result };
  } catch (err) {
    return { kind: 'unreadable', problem: `cannot read ${file}: ${(err as Error).message}` };
  } finally {
    try { closeSync(fd); } catch { /* nothing useful to do when closing a read-only descriptor fails */ }
  }
}

/** The stamp of heartbeat.log (a link's own: it is never followed); null when absent, 'error' when it cannot be stat'ed (then a read reports why). */
export function statStamp(file: string): FileStamp | null | 'error' {
  try {
    const st = lstatSync(file);
    return { mtimeMs: st.mtimeMs, size: st.size, ino: st.ino };
  } catch (err) {
    return isMissing(err) ? null : 'error';
  }
}
