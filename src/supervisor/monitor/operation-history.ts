/** The last operations of every handler, kept from events for `supervisor status NAME`. */
import type { OperationResult } from '../lifecycle/events.js';
import type { MonitorEvent } from './types.js';

export interface OperationEntry {
  readonly name: string;
  readonly version: string;
  readonly extension: string | null;
  readonly result: 'running' | OperationResult['result'];
  readonly exitCode: number | null;
  readonly code: number;
  readonly message: string;
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly pid: number | null;
  readonly rebootRequested?: boolean;
  readonly agentRestartRequested?: boolean;
}

export class OperationHistory {
  private readonly byHandler = new Map<string, OperationEntry[]>();

  constructor(private readonly keep = 20) {}

  record(e: MonitorEvent): void {
    if (e.type === 'operationStarted') {
      this.push(e.handler, { name: e.op, version: e.version, extension: e.extension, result: 'running', exitCode: null, code: 0,
        message: '', startedAt: new Date(e.startedAt).toISOString(), endedAt: null, pid: e.pid });
    } else if (e.type === 'operationEnded') {
      const r = e.result;
      const list = this.byHandler.get(e.handler) ?? [];
      const startedAt = new Date(r.startedAt).toISOString();
      const i = list.findIndex((o) => o.result === 'running' && o.name === r.op && o.extension === r.extension);
      const entry: OperationEntry = { name: r.op, version: r.version, extension: r.extension, result: r.result, exitCode: r.exitCode,
        code: r.code, message: r.message, startedAt, endedAt: new Date(r.endedAt).toISOString(), pid: r.pids[0] ?? null,
        ...(r.requests ? { rebootRequested: r.requests.reboot, agentRestartRequested: r.requests.agentRestart } : {}) };
      if (i >= 0) list[i] = entry; else this.push(e.handler, entry);
    }
  }

  of(handler: string): readonly OperationEntry[] {
    return this.byHandler.get(handler) ?? [];
  }

  private push(handler: string, entry: OperationEntry): void {
    const list = this.byHandler.get(handler) ?? [];
    list.push(entry);
    if (list.length > this.keep) list.splice(0, list.length - this.keep);
    this.byHandler.set(handler, list);
  }
}
