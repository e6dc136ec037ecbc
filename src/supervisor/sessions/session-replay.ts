/** Operations recorded in a session, as the events that produced them: a restarted daemon and the offline view replay them. */
import type { SessionDoc, SessionOperation } from '../../storage/sessions.js';
import type { OperationResult } from '../lifecycle/events.js';

export function operationFromSession(op: SessionOperation): OperationResult {
  const running = op.result === 'running';
  return { op: op.name as OperationResult['op'], version: op.version, extension: op.extension,
    result: running ? 'failed' : op.result as OperationResult['result'], exitCode: op.exitCode, signal: null, code: op.code,
    message: running ? 'interrupted: the supervisor stopped while it ran' : '',
    startedAt: Date.parse(op.startedAt), endedAt: op.endedAt ? Date.parse(op.endedAt) : Date.parse(op.startedAt), pids: [], unkillable: [] };
}

/** operationEnded events for every operation a session recorded, handler by handler, in order. */
export function sessionEvents(session: SessionDoc | null): Array<{ type: 'operationEnded'; handler: string; result: OperationResult }> {
  const out: Array<{ type: 'operationEnded'; handler: string; result: OperationResult }> = [];
  for (const [handler, h] of Object.entries(session?.handlers ?? {})) {
    for (const op of h.operations) out.push({ type: 'operationEnded', handler, result: operationFromSession(op) });
  }
  return out;
}
