/**
 * The handlers of one lib dir as actors: applies a goal state with dependency order and
 * the command concurrency limits, and stops cleanly (running commands are ended). Goal states
 * do not wait for each other: each is handed to every handler at once; a handler busy with an
 * older goal keeps only the newest one for when its running operation ends (goal-ticket.ts).
 */
import type { Spawner } from '../process/spawner.js';
import { setMaxListeners } from 'node:events';
import { ActorSystem, type ActorRef } from '../../actors/actor.js';
import { systemClock, type Clock } from '../../core/clock.js';
import type { BackoffPolicy } from '../../core/backoff.js';
import { handlerBehavior, supersededResult, type ControlOutcome, type Dependency, type HandlerApplyResult, type HandlerMessage } from './handler-actor.js';
import { GoalTicket } from './goal-ticket.js';
import { emptyRecord } from './record.js';
import { StateStore } from './record-store.js';
import { ensureDir, libIdOf, type SupervisorDirs } from '../../storage/dirs.js';
import { Gate } from './gate.js';
import type { GoalState, HandlerGoal } from '../goal/goal-state.js';
import { applyOrder, dependentsOf } from '../goal/goal-state-graph.js';
import type { MonitorEvent } from '../monitor/types.js';
import type { RestartRequest } from './events.js';

export interface FleetOptions {
  readonly dirs: SupervisorDirs;
  /** enable/disable commands at once (CONTRACT default 16). */
  readonly concurrency?: number;
  /** install/update/uninstall commands at once (default 1). */
  readonly installConcurrency?: number;
  /** Package downloads at once. */
  readonly fetchConcurrency?: number;
  /** Between SIGTERM and SIGKILL, ms (default 5000). */
  readonly graceMs?: number;
  readonly clock?: Clock;
  readonly onEvent?: (event: MonitorEvent) => void;
  /** The actor system to live in (the daemon's); a private one otherwise. */
  readonly system?: ActorSystem;
  /** Forks handler commands through this helper process (a big process forks slowly). */
  readonly spawner?: Spawner;
  /** `--certificates-folder`: used for handlers whose goal state names no certificatesFolder. */
  readonly certificatesFolder?: string;
  /** Told about a state file that did not parse: it was moved aside and rebuilt from disk. */
  readonly onCorruptState?: (message: string) => void;
  /** Backoff for a handler's work that failed on a resource (ENOSPC...); null: never retried. Default: handler-actor's. */
  readonly transientRetry?: BackoffPolicy | null;
}

export interface ApplySummary {
  readonly source: string;
  readonly etag: string | null;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly results: readonly HandlerApplyResult[];
  /** Every handler reached its goal. */
  readonly ok: boolean;
}

/** What `restart` or `retry` did, one line per step, in order. */
export interface ControlReport { readonly ok: boolean; readonly steps: readonly string[] }

export class Fleet {
  readonly dirs: SupervisorDirs;
  readonly libId: string;
  readonly store: StateStore;
  readonly gates: { readonly install: Gate; readonly enable: Gate; readonly fetch: Gate };
  private readonly system: ActorSystem;
  private readonly clock: Clock;
  private readonly actors = new Map<string, ActorRef<HandlerMessage>>();
  private readonly abort = new AbortController();
  private readonly graceMs: number;
  private stopping: Promise<void> | null = null;
  private readonly ownsSystem: boolean;
  private mailbox: ActorRef<RestartRequest> | null = null;
  /** Each handler's newest goal not yet started: the one a newer goal drops. */
  private readonly queued = new Map<string, GoalTicket>();
  /** Goals are handed out in the order reconcile was called, whatever the file system's timing. */
  private prepared: Promise<void> = Promise.resolve();
  private withdrawn = false;
  /** The newest goal state handed out: `restart` finds a handler's dependents in it. */
  private lastGoal: GoalState | null = null;

  constructor(private readonly opts: FleetOptions) {
    this.dirs = opts.dirs;
    this.libId = libIdOf(opts.dirs.libDir);
    this.clock = opts.clock ?? systemClock;
    this.graceMs = opts.graceMs ?? 5000;
    this.store = new StateStore(opts.dirs, {
      onCorrupt: (c) => opts.onCorruptState?.(`${c.file} could not be read (${c.error}); moved to ${c.movedTo} and rebuilt from disk as ${c.rebuilt.state}${c.rebuilt.version ? ` ${c.rebuilt.version}` : ''}`),
    });
    this.gates = {
      install: new Gate('install', opts.installConcurrency ?? 1),
      enable: new Gate('enable', opts.concurrency ?? 16),
      fetch: new Gate('fetch', opts.fetchConcurrency ?? 8),
    };
    this.ownsSystem = !opts.system;
    this.system = opts.system ?? new ActorSystem({ clock: this.clock, askTimeoutMs: Infinity });
    // Every running command and every queued gate waiter listens to this one signal.
    setMaxListeners(0, this.abort.signal);
  }

  /** The signal every command of this fleet is cancelled by. */
  get signal(): AbortSignal { return this.abort.signal; }

  private actor(name: string): ActorRef<HandlerMessage> {
    let ref = this.actors.get(name);
    if (!ref) {
      ref = this.system.spawn<HandlerMessage>(`handler:${name}`, handlerBehavior(name, {
        dirs: this.dirs, libId: this.libId, gates: this.gates, graceMs: this.graceMs, clock: this.clock,
        signal: this.abort.signal, store: this.store, emit: (e) => this.opts.onEvent?.(e),
        ...(this.opts.spawner ? { spawner: this.opts.spawner } : {}),
        ...(this.opts.transientRetry !== undefined ? { transientRetry: this.opts.transientRetry } : {}),
      }));
      this.actors.set(name, ref);
    }
    return ref;
  }

  /**
   * Applies every handler of the goal state; dependents start when their dependencies are done
   * (in this goal: a dependency busy with an older goal is waited for until it applied this one).
   * A handler busy with an older goal gets this one when its running operation ends, unless a
   * newer goal came first: then its result here is `superseded`. `onSettled` hears each handler's
   * name as soon as its outcome is known: its result, or its goal dropped (before the answer is built).
   */
  async reconcile(goal: GoalState, onSettled?: (name: string) => void): Promise<ApplySummary> {
    const startedAt = this.clock.now();
    const ready = this.prepared.then(async () => {
      await ensureDir(this.dirs.libDir, 0o700);
      await ensureDir(this.dirs.logDir, 0o700);
    });
    this.prepared = ready.catch(() => {});
    await ready;
    this.lastGoal = goal;
    const results = new Map<string, Promise<HandlerApplyResult>>();
    // Enable runs dependencies first; disable and uninstall run dependents first.
    const order = applyOrder(goal.handlers);
    for (const layer of order.layers) {
      for (const h of layer) {
        const dependencies: Dependency[] = (order.waitsFor.get(h.name) ?? []).flatMap((d) => {
          const result = results.get(d);
          return result ? [{ name: d, result }] : [];
        });
        const certs = h.certificatesFolder ?? this.opts.certificatesFolder ?? null;
        const g = certs === (h.certificatesFolder ?? null) ? h : { ...h, certificatesFolder: certs };
        results.set(h.name, this.handOut(g, goal, dependencies, onSettled));
      }
    }
    const byName = new Map<string, HandlerApplyResult>();
    for (const [name, p] of results) byName.set(name, await p);
    const ordered = goal.handlers.map((h) => byName.get(h.name)!);
    return { source: goal.source, etag: goal.etag, startedAt, endedAt: this.clock.now(), results: ordered, ok: ordered.every((r) => r.reached) };
  }

  /** Asks the handler's actor to apply its goal; drops the goal it still had queued (answered `superseded` now). */
  private handOut(h: HandlerGoal, goal: GoalState, dependencies: readonly Dependency[], onSettled?: (name: string) => void): Promise<HandlerApplyResult> {
    const ticket = new GoalTicket();
    if (this.withdrawn) ticket.drop(null);
    this.queued.get(h.name)?.drop({ etag: goal.etag, source: goal.source });
    this.queued.set(h.name, ticket);
    // No deadline: an apply takes as long as its commands (each bounded by its own timeout) and its queue.
    const applied = this.actor(h.name).ask<HandlerApplyResult>((reply) => ({ type: 'apply', goal: h, dependencies, ticket, reply }), Infinity);
    const dropped = ticket.dropped.then(async (by) => supersededResult(h, await this.store.load(h.name).catch(() => emptyRecord(h.name)), by));
    const result = Promise.race([applied, dropped]);
    const forget = (): void => { if (this.queued.get(h.name) === ticket) this.queued.delete(h.name); };
    result.then(forget, forget);
    if (onSettled) {
      let told = false;
      const tell = (): void => { if (!told) { told = true; onSettled(h.name); } };
      void ticket.dropped.then(tell);
      result.then(tell, () => {});
    }
    return result;
  }

  /** A stop: goals handed out but not started are answered now (`superseded`, by nothing), so no new work starts. */
  withdraw(): void {
    this.withdrawn = true;
    for (const ticket of this.queued.values()) ticket.drop(null);
  }

  /** Cancels running commands (SIGTERM, then SIGKILL after the grace) and stops every actor. */
  cancel(): void {
    this.abort.abort(new Error('the supervisor is stopping'));
  }

  /** Stops the handler actors after what they have queued (running plans finish or are cancelled first). */
  stop(): Promise<void> {
    this.stopping ??= this.ownsSystem ? this.system.stop()
      : Promise.all([...this.actors.values(), ...(this.mailbox ? [this.mailbox] : [])].map((a) => a.stop())).then(() => undefined);
    return this.stopping;
  }

  /** Announces every handler with a record on disk (daemon start-up): monitors start watching, nothing runs. */
  async describeInstalled(goal: GoalState | null): Promise<void> {
    const goals = new Map((goal?.handlers ?? []).map((h) => [h.name, h]));
    await Promise.all((await this.store.names()).map((name) =>
      this.actor(name).ask<unknown>((reply) => ({ type: 'describe', goal: goals.get(name) ?? null, reply }), Infinity)));
  }

  /** Disable + enable one handler through its own mailbox. */
  restart(name: string): Promise<{ ok: boolean; message: string }> {
    return this.actor(name).ask((reply) => ({ type: 'restart', reply }), Infinity);
  }

  /**
   * `supervisor restart NAME`: its dependents (those the goal has enabled) are disabled first, last
   * dependent first, then it; then it is enabled, then they, in dependency order. Stops at the first failure.
   */
  restartWithDependents(name: string): Promise<ControlReport> {
    return this.cycleWithDependents(name, 'restart');
  }

  /**
   * `supervisor retry NAME`: its goal again now, in the order of a restart: what is Enabled among it
   * and its dependents is disabled first (last dependent first, so its enable runs again), then its
   * goal and theirs are applied again in dependency order (a dependent a failure had blocked is
   * attempted now). Stops at the first failure.
   */
  retry(name: string): Promise<ControlReport> {
    return this.cycleWithDependents(name, 'retry');
  }

  private async cycleWithDependents(name: string, verb: 'restart' | 'retry'): Promise<ControlReport> {
    const handlers = this.lastGoal?.handlers ?? [];
    if (!handlers.some((h) => h.name === name)) return { ok: false, steps: [`${name}: not ${verb === 'restart' ? 'restarted' : 'retried'}: not in the goal state`] };
    const dependents = dependentsOf(name, handlers);
    const order = applyOrder(handlers.filter((h) => h.name === name || dependents.includes(h.name)).map((h) => ({ ...h, state: 'enabled' })));
    const up = order.layers.flat().map((h) => h.name);
    const steps: string[] = [];
    for (const n of [...up].reverse()) {
      // A retry says only what it did: a handler that is not Enabled (a failed install, a blocked dependent) has nothing to disable.
      if (verb === 'retry' && (await this.store.load(n)).state !== 'Enabled') continue;
      const r = await this.control(n, 'disable');
      steps.push(`${n}: disable: ${r.message}`);
      if (!r.ok) return { ok: false, steps };
    }
    for (const n of up) {
      const r = await this.control(n, 'reapply');
      steps.push(`${n}: ${verb === 'restart' ? 'enable' : 'goal applied again'}: ${r.message}`);
      if (!r.ok) return { ok: false, steps };
    }
    return { ok: true, steps };
  }

  private control(name: string, op: 'disable' | 'reapply'): Promise<ControlOutcome> {
    return this.actor(name).ask<ControlOutcome>((reply) => ({ type: 'control', op, reply }), Infinity);
  }

  /**
   * The fleet's mailbox for the monitors (the heartbeat watchdog asks for a restart here and is
   * answered with a message): they hold a reference to an actor, never to the Fleet.
   */
  get ref(): ActorRef<RestartRequest> {
    this.mailbox ??= this.system.spawn<RestartRequest>('fleet', {
      receive: (msg) => {
        // Not awaited: a disable + enable may take minutes, and other handlers' requests must not wait for it.
        void this.restart(msg.handler).then(
          (r) => msg.replyTo.tell({ type: 'restartDone', handler: msg.handler, ok: r.ok, message: r.message }),
          (err: unknown) => msg.replyTo.tell({ type: 'restartDone', handler: msg.handler, ok: false,
            message: `restart failed: ${err instanceof Error ? err.message : String(err)}` }));
      },
    });
    return this.mailbox;
  }

  /** Number of handler actors with work queued or running. */
  get busy(): number {
    return [...this.actors.values()].filter((a) => a.queueLength > 0).length;
  }
}
