/**
 * A handler's last operations, as `supervisor status NAME` lists them: kept by the snapshot's
 * fold from operation events, and persisted with the handler's journal (journal.ts).
 */
import type { HandlerEvent, OperationResult } from '../lifecycle/events.js';

export interface OperationEntry {
  readonly name: string;
  readonly version: string;
  readonly extension: string | null;
  readonly result: 'running' | OperationResult['result'];
  readonly exitCode: number | null;
  readonly code: number;
  /** What failed and why, with the tail of the command's output (empty on success). */
  readonly message: string;
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly pid: number | null;
  readonly rebootRequested?: boolean;
  readonly agentRestartRequested?: boolean;
}

/** Operations kept per handler, newest last. */
export const KEEP_OPERATIONS = 20;

type OperationEvent = Extract<HandlerEvent, { type: 'operationStarted' | 'operationEnded' }>;

function entryOf(e: OperationEvent): OperationEntry {
  if (e.type === 'operationStarted') {
    return { name: e.op, version: e.version, extension: e.extension, result: 'running', exitCode: null, code: 0,
      message: '', startedAt: new Date(e.startedAt).toISOString(), endedAt: null, pid: e.pid };
  }
  const r = e.result;
  return { name: r.op, version: r.version, extension: r.extension, result: r.result, exitCode: r.exitCode,
    code: r.code, message: r.message, startedAt: new Date(r.startedAt).toISOString(), endedAt: new Date(r.endedAt).toISOString(),
    pid: r.pids[0] ?? null, ...(r.requests ? { rebootRequested: r.requests.reboot, agentRestartRequested: r.requests.agentRestart } : {}) };
}

/**
 * The list after one operation event: a start adds a running entry; an end replaces the running
 * entry of the same operation (and extension), or is added; the oldest beyond `keep` go.
 */
export function withOperation(list: readonly OperationEntry[], e: OperationEvent, keep = KEEP_OPERATIONS): OperationEntry[] {
  const entry = Object.freeze(entryOf(e));
  const out = [...list];
  const i = e.type === 'operationEnded'
    ? out.findIndex((o) => o.result === 'running' && o.name === entry.name && o.extension === entry.extension) : -1;
  if (i >= 0) out[i] = entry; else out.push(entry);
  if (out.length > keep) out.splice(0, out.length - keep);
  return out;
}
