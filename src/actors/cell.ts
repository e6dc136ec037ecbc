import { SupervisorError } from '../core/errors.js';
import type { Clock, TimerId } from '../core/clock.js';
import { Mailbox } from './mailbox.js';
import type { ActorContext, ActorFailure, ActorRef, ActorStatus, Behavior, Reply } from './types.js';

/** What a cell needs from its system; an interface so cells never import the system. */
export interface CellHost {
  readonly clock: Clock;
  readonly askTimeoutMs: number;
  deadLetter(actor: string, message: unknown): void;
  /** Must not throw: it is called from inside mailbox processing. */
  unhandledFailure(failure: ActorFailure): void;
  /** A cell started (+1) or ended (-1) a drain of its mailbox: the system knows when all are idle. */
  busy(delta: 1 | -1): void;
}

/** The parent side of a cell (another cell, or the system for top-level actors). */
export interface ParentNode {
  readonly path: string;
  /** Queues the failure for the parent's onChildFailed; false when nobody there observes it. */
  acceptChildFailure(failure: ActorFailure): boolean;
  removeChild(child: ChildNode): void;
}

/** The child side of a cell, as its parent sees it. */
export interface ChildNode {
  readonly name: string;
  stop(): Promise<void>;
}

/** Recorded as the message being handled when onStop fails. */
export const STOP_MESSAGE = Object.freeze({ type: 'actorStop' as const });

/** The `type` of a message for error texts, or its typeof when it has none. */
export function messageType(msg: unknown): string {
  if (typeof msg === 'object' && msg !== null && 'type' in msg && typeof msg.type === 'string') return msg.type;
  return typeof msg;
}

/** Names are path segments: non-empty, no '/'. Throws E_ACTOR_NAME otherwise. */
export function checkActorName(name: unknown, parentPath: string): asserts name is string {
  if (typeof name !== 'string' || name.length === 0 || name.includes('/')) {
    throw new SupervisorError('E_ACTOR_NAME',
      `actor name under "${parentPath || '(system)'}" must be a non-empty string without "/" (got ${JSON.stringify(name)})`,
      { parent: parentPath, name });
  }
}

function stoppedError(path: string, what: string): SupervisorError {
  return new SupervisorError('E_ACTOR_STOPPED', `actor "${path}" is stopped: ${what}`, { actor: path });
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/** A child's failure waiting in the parent's mailbox; a private class, so no user message can pass for one. */
class FailureSignal {
  constructor(readonly failure: ActorFailure) {}
}

/** An ask that has been sent and not yet answered; fail() settles it once. */
interface PendingAsk {
  fail(err: unknown): void;
  /** The message type, known once build() has run; named in errors. */
  type: string;
}

// running → draining (stop requested, queue still processed) → finalizing (children, onStop) → stopped
type Phase = 'running' | 'draining' | 'finalizing' | 'stopped';

/**
 * One actor: mailbox, strictly serial processing, ask bookkeeping and ordered stop. Idle
 * cells hold no timers and no promises; a drain runs only while messages are queued.
 */
export class ActorCell<M> implements ActorRef<M>, ParentNode, ChildNode {
  readonly name: string;
  readonly path: string;
  readonly #behavior: Behavior<M>;
  readonly #host: CellHost;
  readonly #parent: ParentNode;
  readonly #ctx: ActorContext<M>;
  readonly #queue = new Mailbox<M | FailureSignal>();
  #phase: Phase = 'running';
  #draining = false;
  #children: Map<string, ChildNode> | undefined;
  #asks: Set<PendingAsk> | undefined;
  #stopPromise: Promise<void> | undefined;
  #resolveStop: () => void = () => {};

  constructor(name: string, behavior: Behavior<M>, host: CellHost, parent: ParentNode) {
    this.name = name;
    this.path = parent.path ? `${parent.path}/${name}` : name;
    this.#behavior = behavior;
    this.#host = host;
    this.#parent = parent;
    this.#ctx = Object.freeze({
      self: this, name, path: this.path, clock: host.clock,
      spawn: <C>(childName: string, childBehavior: Behavior<C>): ActorRef<C> => this.spawnChild(childName, childBehavior),
    });
  }

  get status(): ActorStatus {
    return this.#phase === 'running' ? 'running' : this.#phase === 'stopped' ? 'stopped' : 'stopping';
  }

  get stopped(): boolean {
    return this.#phase === 'stopped';
  }

  get queueLength(): number {
    return this.#queue.length;
  }

  /** Queues a message; once stop was requested it is dropped as a dead letter. */
  tell(msg: M): void {
    if (this.#phase !== 'running') {
      this.#host.deadLetter(this.path, msg);
      return;
    }
    this.#enqueue(msg);
  }

  /**
   * Sends the message `build` makes around a reply; rejects with E_ASK_TIMEOUT or E_ACTOR_STOPPED.
   * A timed-out message is still delivered (it is already queued); its late reply is ignored.
   */
  ask<R>(build: (reply: Reply<R>) => M, timeoutMs: number = this.#host.askTimeoutMs): Promise<R> {
    if (this.#phase !== 'running') return Promise.reject(stoppedError(this.path, 'ask refused'));
    if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) {
      return Promise.reject(new SupervisorError('E_INVALID_ARGUMENT',
        `ask to actor "${this.path}": timeoutMs must be a number > 0 or Infinity (got ${String(timeoutMs)})`, { actor: this.path, timeoutMs }));
    }
    return new Promise<R>((resolve, reject) => {
      let settled = false;
      let timer: TimerId | undefined;
      const pending: PendingAsk = { type: 'unknown', fail: (err) => settle(() => reject(err)) };
      const settle = (complete: () => void): void => {
        if (settled) return; // a late or second reply is ignored on purpose
        settled = true;
        if (timer !== undefined) this.#host.clock.clearTimeout(timer);
        this.#asks?.delete(pending);
        complete();
      };
      const reply: Reply<R> = { resolve: (value) => settle(() => resolve(value)), reject: pending.fail };
      let msg: M;
      try {
        msg = build(reply);
      } catch (err) {
        settle(() => reject(err));
        return;
      }
      if (this.#phase !== 'running') { // build() itself stopped the actor
        settle(() => reject(stoppedError(this.path, `ask "${messageType(msg)}" refused`)));
        return;
      }
      const type = (pending.type = messageType(msg));
      if (!settled) {
        (this.#asks ??= new Set()).add(pending);
        if (timeoutMs !== Infinity) {
          timer = this.#host.clock.setTimeout(() => pending.fail(new SupervisorError('E_ASK_TIMEOUT',
            `ask "${type}" to actor "${this.path}" got no reply within ${timeoutMs} ms`,
            { actor: this.path, messageType: type, timeoutMs })), timeoutMs);
        }
      }
      this.#enqueue(msg);
    });
  }

  /** Requests stop after everything already queued; the same promise every time, never rejected. */
  stop(): Promise<void> {
    if (!this.#stopPromise) {
      this.#stopPromise = new Promise<void>((resolve) => { this.#resolveStop = resolve; });
      if (this.#phase === 'running') this.#phase = 'draining';
      this.#schedule();
    }
    return this.#stopPromise;
  }

  /** Creates a child; refused once this actor has started its final stop. */
  spawnChild<C>(name: string, behavior: Behavior<C>): ActorRef<C> {
    checkActorName(name, this.path);
    if (this.#phase === 'finalizing' || this.#phase === 'stopped') throw stoppedError(this.path, `cannot spawn child "${name}"`);
    const children = (this.#children ??= new Map());
    if (children.has(name)) {
      throw new SupervisorError('E_ACTOR_NAME_TAKEN', `actor "${this.path}" already has a child named "${name}"`, { parent: this.path, name });
    }
    const child = new ActorCell<C>(name, behavior, this.#host, this);
    children.set(name, child);
    return child;
  }

  acceptChildFailure(failure: ActorFailure): boolean {
    if (this.#phase === 'stopped' || !this.#behavior.onChildFailed) return false;
    this.#enqueue(new FailureSignal(failure));
    return true;
  }

  removeChild(child: ChildNode): void {
    if (this.#children?.get(child.name) === child) this.#children.delete(child.name);
  }

  #enqueue(item: M | FailureSignal): void {
    this.#queue.enqueue(item);
    this.#schedule();
  }

  /** Starts a drain on a later microtask, so tell() never runs the receiver inside the sender. */
  #schedule(): void {
    if (this.#draining) return;
    this.#draining = true;
    this.#host.busy(1);
    queueMicrotask(() => void this.#drain());
  }

  /** Processes the queue one message at a time; never rejects (every failure becomes a message). */
  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const pending = this.#handle(this.#queue.take());
        if (pending) await pending;
      }
      if (this.#phase === 'draining') await this.#finalize();
    } finally {
      this.#draining = false;
      this.#host.busy(-1);
    }
  }

  /** Runs one message; returns a promise only when the handler was async (sync handlers cost no tick). */
  #handle(item: M | FailureSignal): Promise<void> | undefined {
    const isSignal = item instanceof FailureSignal;
    const message = isSignal ? item.failure : item;
    try {
      const result = isSignal ? this.#behavior.onChildFailed?.(item.failure, this.#ctx) : this.#behavior.receive(item, this.#ctx);
      if (!isThenable(result)) return undefined;
      return Promise.resolve(result).then(() => undefined, (error: unknown) => this.#fail(error, message));
    } catch (error) {
      this.#fail(error, message);
      return undefined;
    }
  }

  /** Children first (each drains its queue), then failures they reported, then onStop, then done. */
  async #finalize(): Promise<void> {
    this.#phase = 'finalizing';
    if (this.#children && this.#children.size > 0) await Promise.all([...this.#children.values()].map((c) => c.stop()));
    while (this.#queue.length > 0) {
      const pending = this.#handle(this.#queue.take());
      if (pending) await pending;
    }
    if (this.#behavior.onStop) {
      try {
        const result = this.#behavior.onStop(this.#ctx);
        if (isThenable(result)) await result;
      } catch (error) {
        this.#fail(error, STOP_MESSAGE);
      }
    }
    this.#phase = 'stopped';
    this.#parent.removeChild(this);
    const asks = this.#asks;
    this.#asks = undefined;
    if (asks) for (const a of asks) a.fail(stoppedError(this.path, `stopped before replying to ask "${a.type}"`));
    this.#resolveStop();
  }

  #fail(error: unknown, message: unknown): void {
    const failure: ActorFailure = Object.freeze({ type: 'actorFailed', actor: this.name, path: this.path, error, message });
    if (!this.#parent.acceptChildFailure(failure)) this.#host.unhandledFailure(failure);
  }
}
