/**
 * What a previous daemon left of each handler for the snapshot's fold: its journal (journal.ts)
 * and its restart book, read back as one 'restored' event per handler. The daemon folds these at
 * start-up (and hands the books to the watchdog); the offline view folds the same events.
 */
import type { SessionDoc } from '../../storage/sessions.js';
import { operationFromSession } from '../sessions/session-replay.js';
import { HandlerFiles, type HandlerFilesOptions } from './handler-files.js';
import { journalFiles, type HandlerJournal } from './journal.js';
import { withOperation, type OperationEntry } from './operation-history.js';
import { restartBookFromJson, type RestartBookState } from './restart-policy.js';
import type { MonitorEvent } from './types.js';
import { restartsFolder } from '../../storage/layout.js';

export { restartsFolder };

export type RestoredEvent = Extract<MonitorEvent, { type: 'restored' }>;

/** `<lib>/restarts/<name>.json`: the heartbeat watchdog's books, written by it alone. */
export function restartBookFiles(libDir: string, opts: HandlerFilesOptions = {}): HandlerFiles<RestartBookState> {
  return new HandlerFiles(restartsFolder(libDir), restartBookFromJson, opts);
}

export interface Persisted {
  readonly events: readonly RestoredEvent[];
  readonly books: ReadonlyMap<string, RestartBookState>;
}

/**
 * A lib dir written before journals existed (or a crash before a handler's first journal write):
 * the last session's record of the handler, which has its operations and outcome but no messages.
 */
function fromSession(session: SessionDoc, name: string): Omit<HandlerJournal, 'schema'> | null {
  const h = session.handlers[name];
  if (!h) return null;
  let operations: OperationEntry[] = [];
  for (const op of h.operations) operations = withOperation(operations, { type: 'operationEnded', handler: name, result: operationFromSession(op) });
  const outcome = h.reached === false && h.code !== null ? { failure: { code: h.code, message: h.message ?? '' }, note: null } : null;
  return { name, operations, outcome };
}

/** Every handler's restored event (journal, else the last session; and its book), and the books. */
export async function loadPersisted(libDir: string, session: SessionDoc | null, opts: HandlerFilesOptions = {}): Promise<Persisted> {
  const journals = await journalFiles(libDir, opts).loadAll();
  const books = await restartBookFiles(libDir, opts).loadAll();
  const names = new Set([...journals.keys(), ...books.keys(), ...Object.keys(session?.handlers ?? {})]);
  const events: RestoredEvent[] = [];
  for (const name of [...names].sort()) {
    const journal = journals.get(name) ?? (session ? fromSession(session, name) : null);
    const book = books.get(name) ?? null;
    if (!journal && !book) continue;
    events.push({ type: 'restored', handler: name, operations: journal?.operations ?? [], outcome: journal?.outcome ?? null,
      restarts: book?.total ?? 0, gaveUp: book?.gaveUp ?? null });
  }
  return { events, books };
}
