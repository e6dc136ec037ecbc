/**
 * `supervisor run`: one daemon per lib dir. Applies the goal state, re-applies when it changes
 * (a new goal is applied at once, never waiting for an older one: idle handlers take it now, a
 * busy handler when its running operation ends; never interleaved per handler), serves the
 * control socket, and stops gracefully: running commands finish within a grace (then are
 * ended), goals not started are dropped, state and report are flushed, handler processes keep running.
 */
import { join } from 'node:path';
import { daemonGroup, isolationFor, isolationSummary, saveLayout } from '../process/cgroup/index.js';
import { ActorSystem, type ActorRef } from '../../actors/actor.js';
import { goalSourceBehavior, type CheckOutcome, type GoalSourceMessage } from '../goal/goal-source-actor.js';
import { RawJson } from '../../core/raw-json.js';
import { acquireLock } from '../../storage/lock.js';
import { atomicWrite } from '../../storage/atomic-write.js';
import { logDirRecordFile } from '../../storage/layout.js';
import { scanAttributed } from '../process/attribution.js';
import { SupervisorError } from '../../core/errors.js';
import type { GoalState } from '../goal/goal-state.js';
import { closestName } from '../monitor/handler-detail.js';
import { Runtime, type RuntimeOptions } from './runtime.js';
import type { MonitorEvent } from '../monitor/types.js';
import { chokidarFolderWatch } from '../monitor/single-folder-watch.js';
import { releaseMemory } from '../../core/memory.js';
import type { SupervisorMetrics } from '../metrics/metrics.js';
import { startDaemonHttp, type DaemonHttp, type HttpSettings } from './daemon-http.js';
import { supervisorVersion } from '../../core/version-info.js';
import { redactUrl } from '../../core/redact.js';
import { systemdNotifier } from './sd-notify.js';

export interface DaemonOptions extends RuntimeOptions {
  readonly goalSource: string;
  /** Seconds between polls of a URL goal state (default 60). */
  readonly pollIntervalSec?: number;
  /** How long running commands may finish at shutdown before they are ended (ms, default 30 s). */
  readonly stopGraceMs?: number;
  /** `--http-listen` (alias `--metrics-listen`): the status page, ps/status JSON, events, metrics, health there. */
  readonly http?: HttpSettings | null;
  readonly log: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
  /**
   * Serves the control socket with these handlers. Handed in by the CLI, which owns the ipc
   * layer: the daemon answers calls but does not know the wire.
   */
  readonly serveControl: (handlers: DaemonControl, where: ControlEndpoint) => Promise<{ close(): Promise<void> }>;
}

/** Where the control socket lives and what its handshake says about this daemon. */
export interface ControlEndpoint {
  readonly socketPath: string;
  readonly serverInfo: { readonly version: string; readonly libDir: string; readonly logDir: string };
}

/** What the daemon answers on its control socket, one function per method. */
export type DaemonControl = ReturnType<Daemon['control']>;

export class Daemon {
  readonly runtime: Runtime;
  private readonly system = new ActorSystem({ askTimeoutMs: 30_000 });
  private source: ActorRef<GoalSourceMessage> | null = null;
  private server: { close(): Promise<void> } | null = null;
  private release: (() => Promise<void>) | null = null;
  /** The applies under way: goal states overlap (the fleet keeps each handler's own goals in order). */
  private readonly applying = new Set<Promise<void>>();
  private stopPromise: Promise<void> | null = null;
  private resolveDone!: () => void;
  /** Resolves once the daemon has fully stopped. */
  readonly done = new Promise<void>((r) => { this.resolveDone = r; });
  lastGoal: GoalState | null = null;

  private http: DaemonHttp | null = null;
  /** /readyz: null once the first goal state has been applied, else why not yet. */
  private notReady: string | null = 'no goal state read yet';
  private readonly goalWatch = chokidarFolderWatch((err) => this.opts.log('warn', `goal-state watch: ${(err as Error)?.message ?? String(err)}`));
  /**
   * Only with --metrics-listen: prom-client (and the OpenTelemetry API it loads) is ~8 MB of the
   * daemon's RSS that a daemon serving no metrics does not load (docs/decisions.md, "Daemon memory").
   */
  private metrics: SupervisorMetrics | null = null;
  /** systemd's notify protocol (Type=notify, watchdog); does nothing outside systemd. */
  private readonly sd = systemdNotifier({ onError: (message) => this.opts.log('warn', message) });

  private constructor(private readonly opts: DaemonOptions) {
    this.runtime = new Runtime({ ...opts, onError: (err) => opts.log('error', (err as Error)?.message ?? String(err)),
      onCorruptState: (message) => opts.log('warn', message),
      onEvent: (e) => { this.metrics?.observe(e); this.logEvent(e); this.http?.feed.poke(); opts.onEvent?.(e); } });
  }

  /** What an operator looks for in supervisor.log: every operation's outcome, heartbeats lost and found, restarts. */
  private logEvent(e: MonitorEvent): void {
    const { log } = this.opts;
    if (e.type === 'operationEnded') {
      const r = e.result;
      const fields = { handler: e.handler, operation: r.op, version: r.version, ...(r.extension ? { extension: r.extension } : {}),
        result: r.result, exitCode: r.exitCode, code: r.code, durationMs: r.endedAt - r.startedAt };
      if (r.result === 'succeeded') log('info', `${e.handler}: ${r.op} ${r.version} succeeded`, fields);
      else log('warn', `${e.handler}: ${r.message.split('\n')[0]}`, fields);
    } else if (e.type === 'heartbeat' && (e.state === 'stale' || e.state === 'malformed')) {
      log('warn', `${e.handler}: heartbeat ${e.state === 'stale' ? 'stale: Unresponsive' : `malformed: ${e.problem ?? ''}`}`, { handler: e.handler });
    } else if (e.type === 'restart') {
      log(e.outcome === 'gaveUp' || e.outcome === 'failed' ? 'warn' : 'info', `${e.handler}: restart ${e.outcome}: ${e.message}`, { handler: e.handler, restarts: e.restarts });
    }
  }

  /** The isolation chosen at start, logged once; groups a crash left empty are removed, populated ones adopted. */
  private logIsolation(): void {
    const libId = this.runtime.fleet.libId;
    const { description, notes } = isolationSummary(libId);
    const groups = isolationFor(libId);
    groups?.sweep();
    try {
      saveLayout(this.opts.dirs.libDir, groups?.layout ?? null);
    } catch (err) {
      this.opts.log('warn', `isolation: cannot record the groups for ps without a daemon: ${(err as Error).message}`);
    }
    const adopted = groups?.handlers() ?? [];
    const leaf = daemonGroup();
    this.opts.log('info', `isolation: ${description}${adopted.length ? `; adopted the groups of ${adopted.length} handler(s)` : ''}`
      + (leaf !== null ? `; the daemon runs in ${leaf}, handlers beside it` : ''), { isolation: description });
    if (notes.length) this.opts.log(groups === null ? 'warn' : 'info', `isolation: ${notes.join('; ')}${groups === null ? '; limits are not enforced' : ''}`);
  }

  /** Takes the lib-dir lock (E_LOCKED names the running daemon's pid), then starts everything. */
  static async start(opts: DaemonOptions): Promise<Daemon> {
    const release = await acquireLock(opts.dirs.libDir, 'run');
    const daemon = new Daemon(opts);
    daemon.release = release;
    try {
      await daemon.boot();
    } catch (err) {
      await daemon.stop('start-up failed').catch(() => {});
      throw err;
    }
    return daemon;
  }

  private async boot(): Promise<void> {
    const { dirs, log } = this.opts;
    if (this.opts.http) {
      // Before anything runs, so the counters see every event. Loaded only here: prom-client is
      // ~8 MB of RSS a daemon serving no HTTP does not need (docs/decisions.md, "Daemon memory").
      const { SupervisorMetrics } = await import('../metrics/metrics.js');
      this.metrics = new SupervisorMetrics({ rows: () => this.runtime.rows(), reporterStats: () => this.runtime.reporterStats(),
        processMetrics: true });
      this.http = await startDaemonHttp({ settings: this.opts.http, runtime: this.runtime, metrics: this.metrics, control: this.control(),
        readiness: () => ({ ready: this.notReady === null, reason: this.notReady ?? 'the first goal state has been applied' }),
        onError: (err) => log('warn', `http: ${(err as Error)?.message ?? String(err)}`) });
      log('info', `http on ${this.http.url}${this.opts.http.token ? ' (bearer token required)' : ''}`);
    }
    for (const leftover of await this.runtime.cleanLeftovers()) log('warn', `removed ${leftover}, left by an interrupted write`);
    await atomicWrite(logDirRecordFile(dirs.libDir), `${dirs.logDir}\n`).catch((err: Error) => log('warn', `cannot record the log dir: ${err.message}`));
    this.logIsolation();
    // Adopt what is installed: monitors watch it, running handler processes are found by their mark.
    await this.runtime.describeInstalled(null);
    // Said once at start: after a restart, the operator sees what the new daemon took over.
    await scanAttributed(this.runtime.fleet.libId).then((found) => {
      const pids = [...found.values()].reduce((n, procs) => n + procs.length, 0);
      log('info', `adopted ${pids} running process${pids === 1 ? '' : 'es'} of ${found.size} handler${found.size === 1 ? '' : 's'}`
        + (found.size ? `: ${[...found.keys()].sort().join(', ')}` : ''));
    }, (err: Error) => log('warn', `cannot look for running handler processes: ${err.message}`));
    // Named redacted wherever it is shown: a goal-state URL may carry a token.
    const shownSource = redactUrl(this.opts.goalSource);
    this.runtime.setSupervisorStatus('Ready', `applying ${shownSource}`);
    this.server = await this.opts.serveControl(this.control(), {
      socketPath: join(dirs.libDir, 'supervisor.sock'),
      serverInfo: { version: supervisorVersion(), libDir: dirs.libDir, logDir: dirs.logDir },
    });
    this.source = this.system.spawn('goal-source', goalSourceBehavior({
      source: this.opts.goalSource, pollIntervalSec: this.opts.pollIntervalSec ?? 60, watcher: this.goalWatch,
      onGoal: (goal) => this.offer(goal),
      onWatching: (file) => log('info', `watching ${file} for changes`),
      onUnchanged: (reason, etag) => log('info', `goal state ${reason === 'reload' ? 're-read' : `file changed (${reason})`}, etag unchanged${etag ? ` (${etag})` : ''}: nothing to do`),
      onError: (err) => {
        log('error', `goal state: ${(err as Error).message}`);
        if (this.notReady !== null) this.notReady = `goal state ${shownSource}: ${(err as Error).message.split('\n')[0]}`;
        this.runtime.setSupervisorStatus('Error', `goal state ${shownSource}: ${(err as Error).message.split('\n')[0]}`);
      },
    }));
    this.source.tell({ type: 'check', reason: 'start' });
    this.sd.ready(`serving ${join(dirs.libDir, 'supervisor.sock')}`);
    log('info', `supervisor running on ${dirs.libDir} (pid ${process.pid}), goal state ${shownSource}`);
  }

  /**
   * A new goal is applied at once: handlers that are idle take it now; one busy with an older goal
   * takes it when its running operation ends, and a goal it had not started yet is superseded.
   */
  private offer(goal: GoalState): void {
    if (this.stopPromise) return;
    this.lastGoal = goal;
    this.opts.log('info', `applying goal state ${goal.source}${goal.etag ? ` (etag ${goal.etag})` : ''}: ${goal.handlers.length} handlers`);
    this.runtime.setSupervisorStatus('Ready', `applying ${goal.source}`);
    if (this.notReady !== null) this.notReady = `applying the first goal state${goal.etag ? ` (etag ${goal.etag})` : ''}: ${goal.handlers.length} handlers`;
    const applying: Promise<void> = this.runtime.apply(goal, 'run').then((summary) => {
      const superseded = summary.results.filter((r) => r.action === 'superseded').map((r) => r.name);
      const notReached = summary.results.filter((r) => !r.reached && r.action !== 'superseded');
      const failed = notReached.map((r) => r.name);
      const reached = summary.results.length - failed.length - superseded.length;
      // Each with its reason (a refused downgrade, a failed command...): the summary line names them only.
      for (const r of notReached) {
        const why = (r.failure?.message ?? r.status.message).split('\n', 1)[0]!.slice(0, 500);
        this.opts.log('warn', `${r.name}: not reached (${r.action}): ${why}`, { handler: r.name });
      }
      this.notReady = null;
      this.opts.log(failed.length ? 'warn' : 'info', `goal state${goal.etag ? ` etag ${goal.etag}` : ''} applied: ${reached}/${summary.results.length} reached their goal`
        + (failed.length ? `; not reached: ${failed.join(', ')}` : '') + (superseded.length ? `; superseded by a newer goal: ${superseded.join(', ')}` : ''));
      // An older goal ending after a newer one came says nothing about the newest.
      if (goal === this.lastGoal) {
        this.runtime.setSupervisorStatus('Ready', failed.length ? `${failed.length} handler(s) did not reach their goal` : 'all handlers reached their goal');
      }
    }, (err: unknown) => {
      this.opts.log('error', `applying the goal state failed: ${(err as Error).message}`);
      if (this.notReady !== null) this.notReady = `applying the first goal state failed: ${(err as Error).message.split('\n')[0]}`;
    }).finally(() => {
      this.applying.delete(applying);
      // Nothing else under way: give the apply's garbage back now, not minutes later.
      if (this.applying.size === 0 && !this.stopPromise) releaseMemory();
    });
    this.applying.add(applying);
  }

  /**
   * `supervisor reload` and SIGHUP: reads the goal-state file (or polls the URL) now. A new
   * document is applied as any other; the answer says which it was.
   */
  async reload(why: string): Promise<{ outcome: CheckOutcome['kind']; etag: string | null; message: string }> {
    const source = this.source;
    if (!source || this.stopPromise) throw new SupervisorError('E_SHUTDOWN', 'the daemon is stopping', {});
    this.opts.log('info', `reloading the goal state: ${why}`);
    const outcome = await new Promise<CheckOutcome>((resolve) => source.tell({ type: 'check', reason: 'reload', reply: resolve }));
    const from = redactUrl(this.opts.goalSource);
    switch (outcome.kind) {
      case 'new': return { outcome: 'new', etag: outcome.etag, message: `read ${from}: new goal state${outcome.etag ? ` (etag ${outcome.etag})` : ''}, applying it` };
      case 'unchanged': return { outcome: 'unchanged', etag: outcome.etag, message: `read ${from}: etag unchanged${outcome.etag ? ` (${outcome.etag})` : ''}, nothing to do` };
      default: return { outcome: 'error', etag: null, message: `cannot read ${from}: ${outcome.message}` };
    }
  }

  /** Resolves when no apply is under way (tests, `stop`). */
  async idle(): Promise<void> {
    while (this.applying.size > 0) await Promise.all([...this.applying]);
  }

  private psCache: { version: number; at: number; rows: RawJson } | null = null;

  /**
   * The rows `ps` serves, serialised once and reused while nothing happened for under a second
   * (ages are whole seconds): an operator's `ps --watch` or a monitoring loop costs no work.
   */
  private async psRows(): Promise<RawJson> {
    const version = this.runtime.eventVersion;
    const now = Date.now();
    if (this.psCache && this.psCache.version === version && now - this.psCache.at < 1000) return this.psCache.rows;
    const rows = RawJson.of(await this.runtime.rows());
    this.psCache = { version, at: now, rows };
    return rows;
  }

  /** The control socket's methods, answered from the runtime's snapshot. */
  control() {
    const rt = this.runtime;
    const known = async (name: string): Promise<void> => {
      if (await rt.row(name)) return;
      const names = (await rt.rows()).map((r) => r.name);
      const guess = closestName(name, names);
      throw new SupervisorError('E_UNKNOWN_HANDLER', `no handler named "${name}"${guess ? `; did you mean "${guess}"?` : ''}`, { name });
    };
    return {
      ps: () => this.psRows(),
      status: async ({ name }: { name: string }) => {
        const detail = await rt.detail(name);
        if (detail) return detail;
        await known(name);
        throw new SupervisorError('E_UNKNOWN_HANDLER', `no handler named "${name}"`, { name }); // gone between the two asks
      },
      report: async () => rt.report(),
      sessions: async () => (await rt.sessions.list()).reverse(),
      reload: async () => this.reload('reload requested over the control socket'),
      restart: async ({ name }: { name: string }) => {
        await known(name);
        this.opts.log('info', `${name}: restart requested over the control socket`);
        return rt.restartHandler(name);
      },
      retry: async ({ name }: { name: string }) => {
        await known(name);
        this.opts.log('info', `${name}: retry requested over the control socket`);
        return rt.retryHandler(name);
      },
      stop: async () => {
        setImmediate(() => { void this.stop('stop requested over the control socket'); });
        return { stopping: true as const };
      },
      watchPs: async ({ intervalMs }: { intervalMs?: number }, ctx: { signal: AbortSignal; send(item: unknown): void }) => {
        while (!ctx.signal.aborted) {
          ctx.send(await this.psRows());
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, intervalMs ?? 1000);
            ctx.signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
          });
        }
      },
    };
  }

  /** Graceful stop; idempotent. Handler processes are left running (a restarted daemon adopts them). */
  stop(reason: string): Promise<void> {
    this.stopPromise ??= (async () => {
      const { log } = this.opts;
      log('info', `stopping: ${reason}`);
      // Nothing new starts: goals handed to handlers that have not started them are dropped.
      this.runtime.fleet.withdraw();
      this.sd.stopping(`stopping: ${reason}`);
      await this.source?.stop();
      await this.system.stop();
      await this.goalWatch.close();
      if (this.applying.size > 0) {
        const grace = this.opts.stopGraceMs ?? 30_000;
        const timer = setTimeout(() => {
          log('warn', `running commands did not finish within ${grace / 1000} s: ending them`);
          this.runtime.cancel();
        }, grace);
        await this.idle();
        clearTimeout(timer);
      }
      this.runtime.setSupervisorStatus('Stopped', reason);
      await this.runtime.stop();
      await this.http?.close();
      await this.server?.close();
      await this.release?.();
      this.sd.close();
      log('info', 'stopped');
      this.resolveDone();
    })();
    return this.stopPromise;
  }
}
