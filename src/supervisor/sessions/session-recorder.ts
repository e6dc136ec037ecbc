/**
 * Records one goal-state application as a session: written when it starts, checkpointed
 * (coalesced) as operations start and end, and finished with every handler's outcome.
 * Sessions of a daemon may overlap (a newer goal does not wait); each handler's operations go
 * to the oldest session still waiting for it (daemon/runtime.ts).
 */
import type { Clock } from '../../core/clock.js';
import { redactUrl } from '../../core/redact.js';
import { newSessionId, SessionStore, type SessionDoc, type SessionHandler, type SessionOperation } from '../../storage/sessions.js';
import type { ApplySummary } from '../lifecycle/fleet.js';
import type { GoalState } from '../goal/goal-state.js';
import type { MonitorEvent } from '../monitor/types.js';

const CHECKPOINT_MS = 500;

/**
 * Each checkpoint rewrites the whole document, O(N) in the handlers named: 5000 handlers made it
 * ~2 MB, serialised twice a second while their operations ran (4.3 % of the main thread bringing
 * them up, and its garbage; `--cpu-prof`). So the next checkpoint waits 1 ms per KB of the last
 * one, at least CHECKPOINT_MS: small sessions keep 500 ms, a 2 MB one is rewritten every ~2 s,
 * and the share of the main thread it takes no longer grows with N.
 */
export function checkpointDelayMs(lastBytes: number): number {
  return Math.max(CHECKPOINT_MS, Math.round(lastBytes / 1000));
}

export class SessionRecorder {
  private doc: SessionDoc;
  private timer: ReturnType<Clock['setTimeout']> | null = null;
  private writing: Promise<void> = Promise.resolve();
  private finished = false;
  private written = false;
  /** Size of the last document written (its checkpoints are spaced by it). */
  private lastBytes = 0;
  /** Handlers whose outcome in this session is known: later operations of theirs belong to a newer session. */
  private readonly done = new Set<string>();

  /** `alongside`: the sessions still running when this one began (a crash leaves them to be marked interrupted). */
  constructor(private readonly store: SessionStore, private readonly goal: GoalState, kind: 'apply' | 'run', private readonly clock: Clock,
    private readonly onError: (err: unknown) => void, alongside: readonly string[] = []) {
    const now = clock.now();
    const handlers: Record<string, SessionHandler> = {};
    for (const h of goal.handlers) {
      handlers[h.name] = { desiredState: h.state, version: h.version, action: null, reached: null, status: null, code: null, message: null, operations: [] };
    }
    this.doc = { schema: 1, id: newSessionId(now), kind, source: goal.source, etag: goal.etag, startedAt: new Date(now).toISOString(),
      endedAt: null, result: 'running', handlers, counts: { handlers: goal.handlers.length, reached: 0, failed: 0 },
      ...(alongside.length ? { alongside } : {}) };
  }

  get id(): string { return this.doc.id; }

  /** The goal of this session names the handler. */
  names(handler: string): boolean {
    return Object.hasOwn(this.doc.handlers, handler);
  }

  /** This session is still waiting for the handler's outcome. */
  awaits(handler: string): boolean {
    return !this.finished && !this.done.has(handler) && this.names(handler);
  }

  /** The handler's outcome in this session is known (reached, failed or superseded). */
  settled(handler: string): void {
    this.done.add(handler);
  }

  /**
   * The session to record this application in: the unfinished one a crash left, when it was
   * applying the same document (it is finished now), else a new one (the old is marked interrupted).
   */
  static async open(store: SessionStore, goal: GoalState, kind: 'apply' | 'run', clock: Clock, onError: (err: unknown) => void): Promise<SessionRecorder> {
    const recorder = new SessionRecorder(store, goal, kind, clock, onError);
    const last = await store.last().catch(() => null);
    if (last && last.result === 'running') {
      const now = new Date(clock.now()).toISOString();
      // Sessions that overlapped the crashed one were cut short by the same crash.
      for (const id of last.alongside ?? []) {
        const other = await store.read(id);
        if (other?.result === 'running') await store.write({ ...other, result: 'interrupted', endedAt: now }).catch(onError);
      }
      if (last.source === goal.source && last.etag === goal.etag && last.kind === kind) {
        recorder.doc = { ...last, handlers: { ...recorder.doc.handlers, ...last.handlers }, resumedAt: [...(last.resumedAt ?? []), now] };
        // The crash may have come between its first write and the link that names it.
        await store.ensureLast(last.id).catch(onError);
      } else {
        await store.write({ ...last, result: 'interrupted', endedAt: now }).catch(onError);
      }
    }
    return recorder;
  }

  async begin(): Promise<void> {
    // Kept for `status`/`ps` without a daemon; protected settings stay only in the handlers' settings files,
    // and package uris lose their query values (a SAS token): the copy is read for the goal's wishes, never to fetch.
    const handlers = this.goal.handlers.map((h) => ({ ...h,
      packages: h.packages.map((p) => ({ ...p, uris: p.uris.map(redactUrl) })),
      extensions: h.extensions.map((e) => ({ ...e, protectedSettings: null, protectedSettingsCertThumbprint: null })) }));
    await this.store.writeGoal(this.doc.id, { etag: this.goal.etag, handlers }).catch(this.onError);
    await this.write();
  }

  /** Keeps each handler's operations; the file follows within CHECKPOINT_MS (longer for a large session: checkpointDelayMs). */
  onEvent(e: MonitorEvent): void {
    if (this.finished || (e.type !== 'operationStarted' && e.type !== 'operationEnded')) return;
    const h = this.doc.handlers[e.handler];
    if (!h) return;
    // The doc's handler map is private to this recorder until written: changed in place, one handler at a time
    // (copying the map per event made 1000 handlers cost O(n²)).
    const operations = h.operations as SessionOperation[];
    if (e.type === 'operationStarted') {
      operations.push({ name: e.op, version: e.version, extension: e.extension, result: 'running', exitCode: null, code: 0,
        startedAt: new Date(e.startedAt).toISOString(), endedAt: null });
    } else {
      const r = e.result;
      const ended: SessionOperation = { name: r.op, version: r.version, extension: r.extension, result: r.result, exitCode: r.exitCode, code: r.code,
        startedAt: new Date(r.startedAt).toISOString(), endedAt: new Date(r.endedAt).toISOString() };
      const i = operations.findIndex((o) => o.result === 'running' && o.name === r.op && o.extension === r.extension);
      if (i >= 0) operations[i] = ended; else operations.push(ended);
    }
    if (this.timer === null) {
      this.timer = this.clock.setTimeout(() => { this.timer = null; void this.write(); }, checkpointDelayMs(this.lastBytes));
    }
  }

  /** The final write: every handler's outcome, the counts, the result. */
  async finish(summary: ApplySummary | null, interrupted = false): Promise<SessionDoc> {
    this.finished = true;
    if (this.timer !== null) { this.clock.clearTimeout(this.timer); this.timer = null; }
    const handlers: Record<string, SessionHandler> = { ...this.doc.handlers };
    for (const r of summary?.results ?? []) {
      const h = handlers[r.name];
      if (!h) continue;
      handlers[r.name] = { ...h, version: r.record.version ?? h.version, action: r.action, reached: r.reached, status: r.status.status,
        code: r.status.code, message: r.status.message };
    }
    const results = summary?.results ?? [];
    const reached = results.filter((r) => r.reached).length;
    // A handler a newer goal took over neither reached this goal nor failed it.
    const superseded = results.filter((r) => r.action === 'superseded').length;
    const failed = results.length - reached - superseded;
    this.doc = { ...this.doc, handlers, endedAt: new Date(this.clock.now()).toISOString(),
      result: interrupted ? 'interrupted' : summary?.ok ? 'succeeded' : superseded > 0 && failed === 0 ? 'superseded' : 'failed',
      counts: { handlers: this.doc.counts.handlers, reached, failed } };
    await this.write();
    return this.doc;
  }

  private write(): Promise<void> {
    // A snapshot: later events change the live handler map while this write is queued. Serialised
    // once, here: cloning it first (parse of a stringify) and serialising the clone again cost 5 %
    // of an apply's main thread every 500 ms, and its garbage (`--cpu-prof` of 300 handlers).
    const id = this.doc.id;
    const json = JSON.stringify(this.doc);
    this.lastBytes = json.length;
    // Once written, never "first" again: a long session pruned by newer ones must not take last-session back.
    this.writing = this.writing.then(() => this.store.writeText(id, json, this.written ? false : undefined)).then(() => { this.written = true; })
      .catch(this.onError);
    return this.writing;
  }
}
