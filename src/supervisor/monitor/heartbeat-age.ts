/**
 * HEARTBEAT in `ps` and `status`: the file's age when the question is answered. The snapshot's
 * mtime is the one the watchdog last looked at (up to a check interval old, and frozen once a
 * disable stops the watch); one stat per row that shows an age, on demand, is cheap.
 */
import { stat } from 'node:fs/promises';
import type { HandlerRow } from '../../protocol/ps-rows.js';
import { ageSeconds } from './handler-status.js';

/** The row with heartbeatAgeSeconds from the file's mtime now; unchanged when it shows no age or the file cannot be read. */
export async function withHeartbeatAgeNow(row: HandlerRow, file: string | undefined, now: number): Promise<HandlerRow> {
  if (row.heartbeatAgeSeconds === null || file === undefined) return row;
  const mtimeMs = await stat(file).then((s) => s.mtimeMs, () => null);
  return mtimeMs === null ? row : Object.freeze({ ...row, heartbeatAgeSeconds: ageSeconds(mtimeMs, now) });
}
