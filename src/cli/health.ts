/**
 * Exit codes of `ps` and `status`, after systemctl's (`systemctl status`: 0 active, 3 not
 * running, 4 no such unit; `is-failed`: failed units are the ones to act on), so scripts and
 * health checks can rely on them. Pure: the rows decide, nothing else.
 */
import type { HandlerRow } from '../protocol/ps-rows.js';
import { EXIT } from './io.js';

export type Health = 'ok' | 'failed' | 'notRunning';

/** Failed: an operation failed or the restart budget is spent. ok: at its goal (Ready when enabled). */
export function rowHealth(row: Pick<HandlerRow, 'status' | 'state' | 'desiredState'>): Health {
  if (row.status === 'Failed') return 'failed';
  if (row.desiredState === 'enabled') return row.state === 'Enabled' && row.status === 'Ready' ? 'ok' : 'notRunning';
  // Disabled, uninstalled or orphaned: fine once no operation is under way.
  return row.status === 'Installing' ? 'notRunning' : 'ok';
}

/** 1 when any row is Failed, else 3 when any is not running as its goal says, else 0 (also for none). */
export function exitForRows(rows: readonly Pick<HandlerRow, 'status' | 'state' | 'desiredState'>[]): number {
  const health = rows.map(rowHealth);
  if (health.includes('failed')) return EXIT.notReached;
  if (health.includes('notRunning')) return EXIT.notRunning;
  return EXIT.ok;
}
