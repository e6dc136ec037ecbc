/**
 * HEARTBEAT in `ps` and `status`: the file's age when the question is answered. The snapshot's
 * mtime is the one the watchdog last looked at: current while it watches (it reads every write the
 * kernel reports), frozen once a disable stops the watch. For a heartbeat no longer watched, one
 * stat on demand gives the file's own age (the runtime skips watched ones).
 * The stat is synchronous: `ps` of 1000 handlers made 1000 threadpool round trips otherwise (each
 * a request, a callback and a promise on the main thread, queued behind other handlers' file work),
 * where 1000 stat calls in a row take ~2 ms (docs/decisions.md, "`ps` inside the daemon").
 */
import { statSync } from 'node:fs';
import type { HandlerRow } from '../../protocol/ps-rows.js';
import { ageSeconds } from './handler-status.js';

function mtimeOf(file: string): number | null {
  try {
    return statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? null;
  } catch {
    return null; // unreadable folder, a loop of links: the snapshot's age stands
  }
}

/** The row with heartbeatAgeSeconds from the file's mtime now; unchanged when it shows no age or the file cannot be read. */
export function withHeartbeatAgeNow(row: HandlerRow, file: string | undefined, now: number): HandlerRow {
  if (row.heartbeatAgeSeconds === null || file === undefined) return row;
  const mtimeMs = mtimeOf(file);
  if (mtimeMs === null) return row;
  const age = ageSeconds(mtimeMs, now);
  return age === row.heartbeatAgeSeconds ? row : Object.freeze({ ...row, heartbeatAgeSeconds: age });
}
