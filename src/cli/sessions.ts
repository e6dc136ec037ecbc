/** `supervisor sessions [--json]`: past goal-state applications, newest first (read from disk). */
import { SessionStore, type SessionDoc } from '../storage/sessions.js';
import { EXIT, type CliIO } from './io.js';
import { existingDirsOf, type DirFlags } from './connect.js';
import { renderTable } from './table.js';

export function renderSessions(sessions: readonly SessionDoc[]): string {
  if (sessions.length === 0) return 'no sessions\n';
  return renderTable(['ID', 'KIND', 'STARTED', 'ENDED', 'ETAG', 'RESULT', 'HANDLERS', 'REACHED', 'FAILED'], sessions.map((s) => [
    s.id, s.kind, s.startedAt, s.endedAt ?? '-', s.etag ?? '-', s.result, String(s.counts.handlers), String(s.counts.reached), String(s.counts.failed),
  ]));
}

export async function sessionsCommand(flags: DirFlags & { json?: boolean }, io: CliIO): Promise<number> {
  const sessions = (await new SessionStore(existingDirsOf(flags).libDir).list()).reverse();
  io.stdout(flags.json ? `${JSON.stringify(sessions.map(({ handlers: _h, ...s }) => s), null, 2)}\n` : renderSessions(sessions));
  return EXIT.ok;
}
