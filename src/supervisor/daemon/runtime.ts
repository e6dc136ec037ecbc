/**
 * The composition root shared by `supervisor apply` and `supervisor run`: one actor system
 * with the handler actors (the Fleet), the heartbeat watchdog, the status collector, the
 * process sampler and the reporter. Events flow one way into the reporter.
 */
import { ActorSystem, type ActorRef } from '../../actors/actor.js';
import { systemClock, type Clock } from '../../core/clock.js';
import { HeartbeatActor, type HeartbeatMessage } from '../monitor/heartbeat-actor.js';
import { askReport, askReporterStats, askRow, askRows, flushReport, reporterBehavior, type ReporterMessage, type ReporterStats } from '../monitor/reporter-actor.js';
import { spawnSampler, type SamplerMessage } from '../monitor/sampler-actor.js';
import { statusCollectorBehavior, type StatusMessage } from '../monitor/status-actor.js';
import { Fleet, type ApplySummary, type FleetOptions } from '../lifecycle/fleet.js';
import type { GoalState } from '../goal/goal-state.js';
import { FolderWatcher } from '../monitor/folder-watcher.js';
import type { RestartPolicy } from '../monitor/restart-policy.js';
import type { HeartbeatView } from '../monitor/heartbeat-tracker.js';
import { ageSeconds } from '../monitor/snapshot.js';
import type { StatusReport } from '../monitor/status-report.js';
import type { HandlerRow, MonitorEvent, WatchSpec } from '../monitor/types.js';
import { supervisorVersion } from '../../core/version-info.js';
import { CommandLog, formatEnd, formatStart } from '../logging/command-log.js';
import { boundOutputs } from '../logging/output-bounds.js';
import { join } from 'node:path';
import { OperationHistory } from '../monitor/operation-history.js';
import { SessionRecorder } from '../sessions/session-recorder.js';
import { sessionEvents } from '../sessions/session-replay.js';
import { SessionStore } from '../../storage/sessions.js';
import { cleanLeftovers } from '../../storage/leftovers.js';
import { Spawner } from '../process/spawner.js';

export interface RuntimeOptions extends Omit<FleetOptions, 'system' | 'onEvent'> {
  readonly reportUrl?: string;
  /** Process sampling period, ms (default 5000). */
  readonly sampleIntervalMs?: number;
  readonly restartPolicy?: RestartPolicy;
  /** Told about everything that flows to the reporter (logging, metrics). */
  readonly onEvent?: (event: MonitorEvent) => void;
  /** Problems of the supervisor itself that are not a handler's (a report write failing...). */
  readonly onError?: (err: unknown) => void;
  /** Raw command output files are cut above this size (default 8 MiB), checked every outputCheckMs (30 s). */
  readonly outputMaxBytes?: number;
  readonly outputCheckMs?: number;
  /** 'here': fork handler commands from this process instead of a spawner process (default: a spawner). */
  readonly spawn?: 'spawner' | 'here';
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
  /** Counts events: a cache of anything derived from the snapshot is good while this has not moved. */
  get eventVersion(): number { return this.version; }
  private outputTimer: ReturnType<Clock['setTimeout']> | null = null;
  readonly history = new OperationHistory();
  readonly commandLog: CommandLog;
  readonly sessions: SessionStore;
  private recorder: SessionRecorder | null = null;
  /** Latest watch spec of every installed handler (for `status NAME`). */
  readonly specs = new Map<string, WatchSpec>();
  private readonly onError: (err: unknown) => void;
  /** The helper process handler commands are forked from; null: from this process. */
  readonly spawner: Spawner | null;

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
    this.spawner = opts.spawner ?? (here ? null : new Spawner());
    this.fleet = new Fleet({ ...opts, system: this.system, onEvent: (e) => this.route(e), ...(this.spawner ? { spawner: this.spawner } : {}) });
    this.heartbeat = this.system.spawn('heartbeat', new HeartbeatActor({
      clock: this.clock, watcher: this.watcher, emit: (e) => this.route(e),
      restart: (handler) => this.fleet.restart(handler), ...(opts.restartPolicy ? { policy: opts.restartPolicy } : {}),
    }));
    this.status = this.system.spawn('status', statusCollectorBehavior({ watcher: this.watcher, emit: (e) => this.route(e) }));
    this.sampler = spawnSampler(this.system, { libId: this.fleet.libId, emit: (e) => this.route(e),
      ...(opts.sampleIntervalMs ? { intervalMs: opts.sampleIntervalMs } : {}) });
    this.scheduleOutputBounds();
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
  private route(event: MonitorEvent): void {
    this.version++;
    this.reporter.tell(event);
    this.history.record(event);
    this.recorder?.onEvent(event);
    switch (event.type) {
      case 'watch':
        if (event.spec) this.specs.set(event.handler, event.spec); else this.specs.delete(event.handler);
        this.heartbeat.tell(event);
        // Script-form handlers have no status files to collect: their result is the handler status.
        this.status.tell(event.spec?.form === 'script' ? { type: 'watch', handler: event.handler, spec: null } : event);
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
    return cleanLeftovers(this.opts.dirs, async () => {
      const installed: Array<{ name: string; version: string }> = [];
      for (const name of await this.fleet.store.names()) {
        const r = await this.fleet.store.load(name);
        for (const v of [r.version, r.previousVersion, r.pending?.targetVersion ?? null]) if (v) installed.push({ name, version: v });
      }
      return installed;
    });
  }

  /** Start-up: announce what is installed so the snapshot and the watchers know it before any apply. */
  async describeInstalled(goal: GoalState | null): Promise<void> {
    if (goal) this.announceGoal(goal);
    await this.fleet.describeInstalled(goal);
    // What the last session did is still the handlers' last operation (ps LAST-OP, status).
    const last = await this.sessions.last().catch(() => null);
    for (const event of sessionEvents(last)) {
      this.reporter.tell(event);
      this.history.record(event);
    }
  }

  private announceGoal(goal: GoalState): void {
    this.route({ type: 'goalApplied', etag: goal.etag, source: goal.source,
      handlers: goal.handlers.map((h) => ({ name: h.name, version: h.version, desiredState: h.state })) });
  }

  /** Applies a goal state as one session (recorded under <lib>/sessions). One at a time. */
  async apply(goal: GoalState, kind: 'apply' | 'run' = 'apply'): Promise<ApplySummary> {
    this.announceGoal(goal);
    const recorder = await SessionRecorder.open(this.sessions, goal, kind, this.clock, this.onError);
    this.recorder = recorder;
    await recorder.begin();
    try {
      const summary = await this.fleet.reconcile(goal);
      await recorder.finish(summary, this.fleet.signal.aborted);
      return summary;
    } catch (err) {
      await recorder.finish(null, true);
      throw err;
    } finally {
      if (this.recorder === recorder) this.recorder = null;
    }
  }

  /**
   * The ps rows. Heartbeat events are sent on changes only, so the newest mtime (a rewrite with
   * the same content) comes from the watchdog's in-memory view: no I/O per request.
   */
  async rows(): Promise<readonly HandlerRow[]> {
    const [rows, views] = await Promise.all([askRows(this.reporter), this.heartbeatViews()]);
    return rows.map((r) => this.withHeartbeatAge(r, views));
  }

  async row(name: string): Promise<HandlerRow | null> {
    const [row, views] = await Promise.all([askRow(this.reporter, name), this.heartbeatViews()]);
    return row ? this.withHeartbeatAge(row, views) : null;
  }

  private heartbeatViews(): Promise<ReadonlyMap<string, HeartbeatView>> {
    return this.heartbeat.ask((reply) => ({ type: 'inspect', reply }));
  }

  private withHeartbeatAge(row: HandlerRow, views: ReadonlyMap<string, HeartbeatView>): HandlerRow {
    const mtime = views.get(row.name)?.mtimeMs;
    if (mtime === null || mtime === undefined) return row;
    return { ...row, heartbeatAgeSeconds: ageSeconds(mtime, this.clock.now()) };
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
    })();
    return this.stopping;
  }
}
