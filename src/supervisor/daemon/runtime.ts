/**
 * The composition root shared by `supervisor apply` and `supervisor run`: one actor system
 * with the handler actors (the Fleet), the heartbeat watchdog, the status collector, the
 * process sampler and the reporter. Events flow one way into the reporter.
 */
import { ActorSystem, type ActorRef } from '../../actors/actor.js';
import { systemClock, type Clock } from '../../core/clock.js';
import { HeartbeatActor, type HeartbeatMessage } from '../monitor/heartbeat-actor.js';
import { askFacts, askReport, askReporterStats, askRow, askRows, flushReport, reporterBehavior, type ReporterMessage,
  type ReporterStats } from '../monitor/reporter-actor.js';
import { chosenIsolation, isolationFor, isolationSummary, type HandlerLimits } from '../process/cgroup/index.js';
import { spawnSampler, type SamplerMessage } from '../monitor/sampler-actor.js';
import { statusCollectorBehavior, type StatusMessage } from '../monitor/status-actor.js';
import { Fleet, type ApplySummary, type ControlReport, type FleetOptions } from '../lifecycle/fleet.js';
import type { GoalState } from '../goal/goal-state.js';
import { FolderWatcher } from '../monitor/folder-watcher.js';
import { restartPolicy, type RestartPolicy } from '../monitor/restart-policy.js';
import { loadPersisted, restartBookFiles } from '../monitor/persisted.js';
import { buildDetail, type HandlerDetail } from '../monitor/handler-detail.js';
import { withHeartbeatAgeNow } from '../monitor/heartbeat-age.js';
import { heartbeatWatched } from '../monitor/heartbeat-tracker.js';
import type { StatusReport } from '../monitor/status-report.js';
import type { HandlerRow, MonitorEvent, WatchSpec } from '../monitor/types.js';
import { supervisorVersion } from '../../core/version-info.js';
import { CommandLog, formatEnd, formatStart } from '../logging/command-log.js';
import { boundOutputs } from '../logging/output-bounds.js';
import { join } from 'node:path';
import { SessionRecorder } from '../sessions/session-recorder.js';
import { SessionStore } from '../../storage/sessions.js';
import { cleanLeftovers } from '../../storage/leftovers.js';
import { Spawner } from '../process/spawner.js';
import { ValidationError } from '../../core/errors.js';
import { protectedValues } from '../../core/redact.js';
import { protectedValuesInFolder, scrubEvent } from '../monitor/scrub-events.js';
import { handlerPaths } from '../../storage/layout.js';
import type { Work } from '../lifecycle/events.js';

/** Work that stops the running version's commands (a heartbeat restart keeps its own watch: its book needs it). */
const PAUSES_HEARTBEAT: ReadonlySet<Work['action']> = new Set(['disable', 'uninstall', 'upgrade', 'downgrade', 'rollback']);

export interface RuntimeOptions extends Omit<FleetOptions, 'system' | 'onEvent'> {
  readonly reportUrl?: string;
  /** Process sampling period, ms (default 5000). */
  readonly sampleIntervalMs?: number;
  /** Default: $EXT_SUPERVISOR_RESTART_POLICY (a JSON object of RestartPolicy fields), else the contract's 3 in 1 hour. */
  readonly restartPolicy?: RestartPolicy;
  /** Told about everything that flows to the reporter (logging, metrics). */
  readonly onEvent?: (event: MonitorEvent) => void;
  /** Problems of the supervisor itself that are not a handler's (a report write failing...). */
  readonly onError?: (err: unknown) => void;
  /**
   * Command output files never grow past this size (default 8 MiB): the spawner rotates them as
   * they are written, keeping outputKeep rotated files (default 3). Forked 'here', the files are
   * the command's own and are cut every outputCheckMs (30 s) instead.
   */
  readonly outputMaxBytes?: number;
  readonly outputKeep?: number;
  readonly outputCheckMs?: number;
  /** 'here': fork handler commands from this process instead of a spawner process (default: a spawner). */
  readonly spawn?: 'spawner' | 'here';
}

/** The restart policy an operator (or a test) set in the environment; null when none. Throws E_INVALID naming each bad field. */
export function restartPolicyFromEnv(env: NodeJS.ProcessEnv = process.env): RestartPolicy | null {
  const text = env['EXT_SUPERVISOR_RESTART_POLICY'];
  if (text === undefined || text.trim() === '') return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = text;
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new ValidationError('EXT_SUPERVISOR_RESTART_POLICY', [{ path: '(root)', reason: 'must be a JSON object of restart policy settings', value }]);
  }
  return restartPolicy(value as Partial<RestartPolicy>, 'EXT_SUPERVISOR_RESTART_POLICY');
}

export class Runtime {
  readonly fleet: Fleet;
  readonly clock: Clock;
  private readonly system: ActorSystem;
  readonly watcher: FolderWatcher;
  private readonly reporter: ActorRef<ReporterMessage>;
  private readonly heartbeat: ActorRef<HeartbeatMessage>;
  private readonly status: ActorRef<StatusMessage>;
  private readonly sampler: ActorRef<SamplerMessage>;
  private stopping: Promise<void> | null = null;
  private version = 0;
  /**
   * Counts events: a cache of anything derived from the snapshot is good while this has not moved.
   * A heartbeat rewrite seen (`heartbeatSeen`, ~100 a second with 1000 handlers beating every
   * 10 s) moves only an age, which a cache at most 1 s old may show 1 s behind, as it shows the
   * others: it does not count, or no `ps` would ever be answered from the cache.
   */
  get eventVersion(): number { return this.version; }
  private outputTimer: ReturnType<Clock['setTimeout']> | null = null;
  readonly commandLog: CommandLog;
  readonly sessions: SessionStore;
  /** The sessions of the applies under way, oldest first (goal states do not wait for each other). */
  private readonly recorders: SessionRecorder[] = [];
  /** Sessions are opened one at a time, in the order the goals came; only the first may continue a crashed one. */
  private opening: Promise<unknown> = Promise.resolve();
  private opened = false;
  /** Latest watch spec of every installed handler: whose command output files to keep bounded. */
  private readonly specs = new Map<string, WatchSpec>();
  /** What a previous run left (journals, restart books), folded once before anything else. */
  private restoring: Promise<void> | null = null;
  private readonly onError: (err: unknown) => void;
  /** Each handler's limits in the last goal state, for `status NAME`. */
  private readonly limits = new Map<string, HandlerLimits | null>();
  /** The helper process handler commands are forked from; null: from this process. */
  readonly spawner: Spawner | null;
  /** Each handler's protected values (from the goal), masked in the status and heartbeat messages it writes. */
  private readonly secrets = new Map<string, readonly string[]>();
  /** Handlers whose heartbeat watch is paused (work that stops their writer), until their next watch spec. */
  private readonly paused = new Set<string>();

  constructor(private readonly opts: RuntimeOptions) {
    this.clock = opts.clock ?? systemClock;
    const onError = opts.onError ?? ((err: unknown) => process.emitWarning(String((err as Error)?.message ?? err)));
    this.onError = onError;
    this.commandLog = new CommandLog({ logDir: opts.dirs.logDir }, onError);
    this.sessions = new SessionStore(opts.dirs.libDir);
    this.system = new ActorSystem({
      clock: this.clock, askTimeoutMs: 30_000,
      onUnhandledFailure: (f) => onError(f.error),
    });
    this.watcher = new FolderWatcher({ clock: this.clock, onError });
    this.reporter = this.system.spawn('reporter', reporterBehavior({
      libDir: opts.dirs.libDir, clock: this.clock, supervisorVersion: supervisorVersion(),
      ...(opts.reportUrl ? { reportUrl: opts.reportUrl } : {}), onPushError: onError, onWriteError: onError,
    }));
    // A daemon of a thousand handlers is a big process, and fork() slows down with the size of
    // its parent (docs/decisions.md): commands are forked by a small helper process instead.
    const here = (opts.spawn ?? (process.env['EXT_SUPERVISOR_SPAWN'] === 'here' ? 'here' : 'spawner')) === 'here';
    const output = { ...(opts.outputMaxBytes ? { maxBytes: opts.outputMaxBytes } : {}), ...(opts.outputKeep !== undefined ? { keep: opts.outputKeep } : {}) };
    this.spawner = opts.spawner ?? (here ? null : new Spawner({ output }));
    this.fleet = new Fleet({ ...opts, system: this.system, onEvent: (e) => this.route(e), ...(this.spawner ? { spawner: this.spawner } : {}) });
    const policy = opts.restartPolicy ?? restartPolicyFromEnv();
    this.heartbeat = this.system.spawn('heartbeat', new HeartbeatActor({
      clock: this.clock, watcher: this.watcher, emit: (e) => this.route(e), fleet: this.fleet.ref,
      books: restartBookFiles(opts.dirs.libDir), onError, ...(policy ? { policy } : {}),
    }));
    this.status = this.system.spawn('status', statusCollectorBehavior({ watcher: this.watcher, emit: (e) => this.route(e) }));
    this.sampler = spawnSampler(this.system, { libId: this.fleet.libId, emit: (e) => this.route(e), groups: isolationFor(this.fleet.libId),
      ...(opts.sampleIntervalMs ? { intervalMs: opts.sampleIntervalMs } : {}) });
    // Through the spawner output is bounded as it is written; only files commands write themselves need the check.
    if (!this.spawner) this.scheduleOutputBounds();
  }

  /** Keeps the raw stdout/stderr files of installed handlers bounded (daemons write them forever). */
  private scheduleOutputBounds(): void {
    this.outputTimer = this.clock.setTimeout(() => {
      void (async () => {
        let i = 0;
        for (const spec of [...this.specs.values()]) {
          // The checks are synchronous: yield now and then, so 1000s of handlers never stall the loop.
          if (++i % 100 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
          await boundOutputs(join(spec.dir, '.supervisor'), this.opts.outputMaxBytes).catch(this.onError);
        }
        if (!this.stopping) this.scheduleOutputBounds();
      })();
    }, this.opts.outputCheckMs ?? 30_000);
  }

  /** Every event reaches the reporter; watch specs also reach the watchers. */
  private route(raw: MonitorEvent): void {
    const event = raw.type === 'extensionStatus' || raw.type === 'heartbeat' ? scrubEvent(raw, this.secrets.get(raw.handler) ?? []) : raw;
    if (event.type !== 'heartbeatSeen') this.version++;
    this.reporter.tell(event);
    this.recorderFor(event)?.onEvent(event);
    switch (event.type) {
      case 'watch':
        if (event.spec) this.specs.set(event.handler, event.spec); else this.specs.delete(event.handler);
        this.paused.delete(event.handler);
        this.heartbeat.tell(event);
        // Script-form handlers have no status files to collect: their result is the handler status.
        this.status.tell(event.spec?.form === 'script' ? { type: 'watch', handler: event.handler, spec: null } : event);
        break;
      case 'workStarted':
        // Its writer is about to be stopped on purpose: not a stale heartbeat to warn of or restart for.
        if (PAUSES_HEARTBEAT.has(event.work.action)) {
          this.paused.add(event.handler);
          this.heartbeat.tell({ type: 'pause', handler: event.handler });
        }
        break;
      case 'operationStarted':
        void this.commandLog.append(event.handler, formatStart(event.handler, event.op, event.version, event.extension, event.pid, event.startedAt));
        break;
      case 'operationEnded':
        void this.commandLog.append(event.handler, formatEnd(event.handler, event.result, event.result.endedAt));
        break;
    }
    this.opts.onEvent?.(event);
  }

  /** Start-up after a crash: removes `.next` leftovers of interrupted atomic writes; returns them for the log. */
  async cleanLeftovers(): Promise<string[]> {
    // Groups a crash (or handlers that ended after an `apply`) left empty; populated ones are adopted.
    isolationFor(this.fleet.libId)?.sweep();
    return cleanLeftovers(this.opts.dirs, async () => {
      const installed: Array<{ name: string; version: string }> = [];
      for (const name of await this.fleet.store.names()) {
        const r = await this.fleet.store.load(name);
        for (const v of [r.version, r.previousVersion, r.pending?.targetVersion ?? null]) if (v) installed.push({ name, version: v });
      }
      return installed;
    });
  }

  /**
   * Folds what a previous run left of each handler (its journal: operations and how its last work
   * ended; its restart book) into the snapshot, and hands the books to the watchdog, before any
   * other event: the rows are then what they were when it stopped, and the restart budget goes on.
   */
  restore(): Promise<void> {
    this.restoring ??= (async () => {
      const last = await this.sessions.last().catch(() => null);
      const persisted = await loadPersisted(this.opts.dirs.libDir, last,
        { onInvalid: (file, err) => this.onError(new Error(`${file} is ignored: ${(err as Error)?.message ?? String(err)}`)) });
      for (const event of persisted.events) this.route(event);
      this.heartbeat.tell({ type: 'restoreBooks', books: persisted.books });
    })();
    return this.restoring;
  }

  /** Start-up: announce what is installed so the snapshot and the watchers know it before any apply. */
  async describeInstalled(goal: GoalState | null): Promise<void> {
    await this.restore();
    // Status files are read before any goal arrives: their masks come from the settings files meanwhile.
    for (const name of await this.fleet.store.names()) {
      const version = (await this.fleet.store.load(name)).version;
      if (version && !this.secrets.has(name)) this.secrets.set(name, await protectedValuesInFolder(handlerPaths(this.opts.dirs, name, version).configFolder));
    }
    if (goal) this.announceGoal(goal);
    await this.fleet.describeInstalled(goal);
  }

  private announceGoal(goal: GoalState): void {
    for (const h of goal.handlers) this.secrets.set(h.name, protectedValues(h.extensions.map((e) => e.protectedSettings)));
    for (const h of goal.handlers) this.limits.set(h.name, h.limits);
    this.route({ type: 'goalApplied', etag: goal.etag, source: goal.source,
      handlers: goal.handlers.map((h) => ({ name: h.name, version: h.version, desiredState: h.state })) });
  }

  /**
   * A handler's operation belongs to the oldest session still waiting for that handler (a handler
   * settles its goals in order); a restart outside any apply of it, to the newest session naming it.
   */
  private recorderFor(event: MonitorEvent): SessionRecorder | null {
    if (event.type !== 'operationStarted' && event.type !== 'operationEnded') return null;
    const waiting = this.recorders.find((r) => r.awaits(event.handler));
    if (waiting) return waiting;
    for (let i = this.recorders.length - 1; i >= 0; i--) if (this.recorders[i]!.names(event.handler)) return this.recorders[i]!;
    return null;
  }

  private openSession(goal: GoalState, kind: 'apply' | 'run'): Promise<SessionRecorder> {
    const next = this.opening.then(async () => {
      const alongside = this.recorders.map((r) => r.id);
      const recorder = this.opened ? new SessionRecorder(this.sessions, goal, kind, this.clock, this.onError, alongside)
        : await SessionRecorder.open(this.sessions, goal, kind, this.clock, this.onError);
      this.opened = true;
      await recorder.begin();
      this.recorders.push(recorder);
      return recorder;
    });
    this.opening = next.catch(() => {});
    return next;
  }

  /**
   * Applies a goal state as one session (recorded under <lib>/sessions). Applies overlap: a newer
   * goal is handed out at once; the session ends when each of its handlers settled or was superseded.
   * `onSettled` hears each handler as it settles (`apply`'s progress).
   */
  async apply(goal: GoalState, kind: 'apply' | 'run' = 'apply', onSettled?: (name: string) => void): Promise<ApplySummary> {
    await this.restore();
    this.announceGoal(goal);
    const recorder = await this.openSession(goal, kind);
    try {
      const summary = await this.fleet.reconcile(goal, (name) => { recorder.settled(name); onSettled?.(name); });
      // A stop withdrew some of it (superseded by nothing), or cancelled what ran.
      const withdrawn = summary.results.some((r) => r.action === 'superseded' && !r.supersededBy);
      await recorder.finish(summary, this.fleet.signal.aborted || withdrawn);
      return summary;
    } catch (err) {
      await recorder.finish(null, true);
      throw err;
    } finally {
      this.recorders.splice(this.recorders.indexOf(recorder), 1);
    }
  }

  /** The ps rows: the reporter's snapshot answers; each heartbeat's age is the file's now. */
  async rows(): Promise<readonly HandlerRow[]> {
    const rows = await askRows(this.reporter);
    const now = this.clock.now();
    return rows.map((r) => this.heartbeatNow(r, now));
  }

  /** The rows as the reporter holds them: heartbeat ages as of the watchdog's last look (the live page's diff). */
  rowsAsHeld(): Promise<readonly HandlerRow[]> {
    return askRows(this.reporter);
  }

  /** These rows with each heartbeat's age as of now (one stat per row that shows an age). */
  withHeartbeatAgesNow(rows: readonly HandlerRow[]): Promise<readonly HandlerRow[]> {
    const now = this.clock.now();
    return Promise.resolve(rows.map((r) => this.heartbeatNow(r, now)));
  }

  async row(name: string): Promise<HandlerRow | null> {
    const r = await askRow(this.reporter, name);
    return r && this.heartbeatNow(r, this.clock.now());
  }

  /**
   * A watched heartbeat's age is already current: the watchdog reads every write the kernel reports
   * and the row's age counts from that mtime. Only a heartbeat no longer watched (disabled, or its
   * writer being stopped) is stat'ed: 5000 stats took 31-38 ms of a 5000-row `ps` (docs/decisions.md).
   */
  private heartbeatNow(row: HandlerRow, now: number): HandlerRow {
    const spec = this.specs.get(row.name);
    if (spec && heartbeatWatched(spec) && !this.paused.has(row.name)) return row;
    return withHeartbeatAgeNow(row, spec?.heartbeatFile, now);
  }

  /** `status NAME`: the snapshot's row, record, operations and watch spec, plus the handler's processes and paths. */
  async detail(name: string): Promise<HandlerDetail | null> {
    const facts = await askFacts(this.reporter, name);
    if (!facts) return null;
    const { description } = isolationSummary(this.fleet.libId);
    return buildDetail(this.opts.dirs, this.heartbeatNow(facts.row, this.clock.now()), facts.record, facts.operations, facts.spec,
      { groups: isolationFor(this.fleet.libId), description, limits: this.limits.get(name) ?? null });
  }

  report(): Promise<StatusReport> { return askReport(this.reporter); }
  reporterStats(): Promise<ReporterStats> { return askReporterStats(this.reporter); }

  /** A fresh process sample now (tests, start-up), instead of waiting for the schedule. */
  async sampleNow(): Promise<void> {
    await this.sampler.ask((reply) => ({ type: 'sampleNow', reply }));
  }

  /**
   * Lets the watchers catch up after an apply (one-shot `apply` prints what they saw): waits,
   * bounded, until the status collector has no read pending.
   */
  async settle(maxMs = 2000): Promise<void> {
    const until = Date.now() + maxMs;
    while (Date.now() < until) {
      const stats = await this.status.ask<{ pendingReads: number }>((reply) => ({ type: 'stats', reply }));
      if (stats.pendingReads === 0) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    await this.sampleNow();
  }

  /** `supervisor restart NAME`: disable then enable it, its dependents disabled before it and enabled after. */
  restartHandler(name: string): Promise<ControlReport> {
    return this.fleet.restartWithDependents(name);
  }

  /** `supervisor retry NAME`: its restart budget reset, then its goal re-attempted now. */
  async retryHandler(name: string): Promise<ControlReport> {
    await this.heartbeat.ask<void>((reply) => ({ type: 'resetBudget', handler: name, reply }));
    const r = await this.fleet.retry(name);
    return { ok: r.ok, steps: [`${name}: restart budget reset`, ...r.steps] };
  }

  setSupervisorStatus(status: string, message: string): void {
    this.reporter.tell({ type: 'supervisorStatus', status, message });
  }

  /** Cancels running commands: SIGTERM, then SIGKILL after the grace. */
  cancel(): void { this.fleet.cancel(); }

  /** Flushes the report, stops every actor and the watcher. Handler processes keep running. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.outputTimer !== null) this.clock.clearTimeout(this.outputTimer);
      await flushReport(this.reporter).catch((err: unknown) => this.opts.onError?.(err));
      await this.system.stop();
      await this.watcher.close();
      await this.commandLog.idle();
      if (this.spawner && this.spawner !== this.opts.spawner) await this.spawner.close();
      // A clean stop leaves no empty group: runs whose last process ended, uninstalled handlers, the lib dir's own.
      chosenIsolation(this.fleet.libId)?.sweep();
    })();
    return this.stopping;
  }
}
