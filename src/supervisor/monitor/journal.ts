/**
 * A handler's journal, `<lib>/history/<name>.json`: what the snapshot's fold knows of it that
 * no other file holds (its last ended operations with their messages, and how its last work
 * ended), so that `ps` and `status` show the same after the daemon stops or starts again.
 * Written by the reporter alone; read back as one 'restored' event.
 */
import { SupervisorError } from '../../core/errors.js';
import type { WorkOutcome } from '../lifecycle/events.js';
import { HandlerFiles, type HandlerFilesOptions } from './handler-files.js';
import type { OperationEntry } from './operation-history.js';
import { historyFolder } from '../../storage/layout.js';

export { historyFolder };

export interface HandlerJournal {
  readonly schema: 1;
  readonly name: string;
  /** The last ended operations, oldest first (a running one is not written: it ends, or a crash ends it). */
  readonly operations: readonly OperationEntry[];
  /** How the handler's last work ended; null while work was under way or none ended yet. */
  readonly outcome: WorkOutcome | null;
}

export function journalFiles(libDir: string, opts: HandlerFilesOptions = {}): HandlerFiles<HandlerJournal> {
  return new HandlerFiles(historyFolder(libDir), journalFromJson, opts);
}

const RESULTS: readonly string[] = ['succeeded', 'failed', 'timedOut'];
const isStr = (v: unknown): v is string => typeof v === 'string';
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const strOrNull = (v: unknown): v is string | null => v === null || isStr(v);
const numOrNull = (v: unknown): v is number | null => v === null || isNum(v);

function operationFromJson(v: Record<string, unknown>): OperationEntry | null {
  if (!isStr(v['name']) || !isStr(v['version']) || !strOrNull(v['extension']) || !RESULTS.includes(String(v['result']))
    || !numOrNull(v['exitCode']) || !isNum(v['code']) || !isStr(v['message']) || !isStr(v['startedAt']) || !strOrNull(v['endedAt'])
    || !numOrNull(v['pid'])) return null;
  return Object.freeze({ name: v['name'], version: v['version'], extension: v['extension'], result: v['result'] as OperationEntry['result'],
    exitCode: v['exitCode'], code: v['code'], message: v['message'], startedAt: v['startedAt'], endedAt: v['endedAt'], pid: v['pid'],
    ...(typeof v['rebootRequested'] === 'boolean' ? { rebootRequested: v['rebootRequested'] } : {}),
    ...(typeof v['agentRestartRequested'] === 'boolean' ? { agentRestartRequested: v['agentRestartRequested'] } : {}) });
}

function outcomeFromJson(v: unknown): WorkOutcome | null | undefined {
  if (v === null) return null;
  const o = v as Record<string, unknown> | undefined;
  if (!o || typeof o !== 'object' || !strOrNull(o['note'])) return undefined;
  const f = o['failure'] as Record<string, unknown> | null | undefined;
  if (f === null) return Object.freeze({ failure: null, note: o['note'] });
  if (!f || typeof f !== 'object' || !isNum(f['code']) || !isStr(f['message'])) return undefined;
  return Object.freeze({ failure: Object.freeze({ code: f['code'], message: f['message'] }), note: o['note'] });
}

/** Reads a journal from its JSON form; anything that is not one throws E_STATE_CORRUPT, naming the file. */
export function journalFromJson(value: unknown, source: string): HandlerJournal {
  const v = value as Record<string, unknown> | null;
  const outcome = v && typeof v === 'object' ? outcomeFromJson(v['outcome']) : undefined;
  const ops = v && Array.isArray(v['operations']) ? v['operations'].map((o) => (o && typeof o === 'object' ? operationFromJson(o) : null)) : null;
  if (!v || v['schema'] !== 1 || !isStr(v['name']) || outcome === undefined || ops === null || ops.includes(null)) {
    throw new SupervisorError('E_STATE_CORRUPT', `${source}: not a handler journal`, { source });
  }
  return Object.freeze({ schema: 1, name: v['name'], operations: Object.freeze(ops as OperationEntry[]), outcome });
}
