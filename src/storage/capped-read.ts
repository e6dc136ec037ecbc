/**
 * The one bounded read loop behind readFileCapped (read-json.ts) and readRegularFile
 * (handler-file.ts). Buffers are sized to the file, not to the cap: a 1 MiB buffer per read of a
 * 300-byte status file made the garbage collector the largest item of a 300-handler stop
 * (1.25 s of 6 s of main-thread time in its profile, docs/decisions.md, "Stopping N handlers").
 */
import type { FileHandle } from 'node:fs/promises';
import { SupervisorError } from '../core/errors.js';

const FIRST_READ_BYTES = 16 * 1024;
const MAX_READ_BYTES = 1024 * 1024;

/**
 * Everything left in `handle` (a regular file), at most `maxBytes`: throws E_FILE_TOO_LARGE past
 * it, also for a file still growing. `sizeHint` (its size when opened) sizes the first read.
 */
export async function readHandleCapped(handle: FileHandle, path: string, maxBytes: number, sizeHint?: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  // One byte past the expected end (and past the cap) tells "exactly at the cap" from "over it".
  let want = Math.max(1, Math.min(maxBytes + 1, sizeHint === undefined ? FIRST_READ_BYTES : sizeHint + 1, MAX_READ_BYTES));
  for (;;) {
    const buffer = Buffer.allocUnsafe(want);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
    if (bytesRead === 0) break;
    chunks.push(buffer.subarray(0, bytesRead));
    total += bytesRead;
    if (total > maxBytes) throw new SupervisorError('E_FILE_TOO_LARGE', `${path} is larger than ${maxBytes} bytes`, { path, maxBytes });
    // A regular file reads short only at its end: no read that would return 0.
    if (bytesRead < buffer.length) break;
    want = Math.max(1, Math.min(maxBytes + 1 - total, Math.max(FIRST_READ_BYTES, want * 2), MAX_READ_BYTES));
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
}
