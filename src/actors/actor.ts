import { SupervisorError } from '../core/errors.js';
import { systemClock, type Clock } from '../core/clock.js';
import { ActorCell, checkActorName, messageType, type CellHost, type ChildNode, type ParentNode } from './cell.js';

export { STOP_MESSAGE, messageType } from './cell.js';
import type { ActorFailure, ActorRef, ActorSystemOptions, Behavior, DeadLetter } from './types.js';
export type * from './types.js';

/** Wraps a failure as a SupervisorError naming the actor and the message type, with the error as cause. */
export function actorFailedError(failure: ActorFailure): SupervisorError {
  const type = messageType(failure.message);
  const reason = failure.error instanceof Error ? failure.error.message : String(failure.error);
  return new SupervisorError('E_ACTOR_FAILED', `actor "${failure.path}" failed handling "${type}": ${reason}`,
    { actor: failure.path, messageType: type }, { cause: failure.error });
}

/** Throws outside any promise chain so an unobserved failure crashes loudly, never as an unhandled rejection. */
function rethrowAsync(error: unknown): void {
  queueMicrotask(() => { throw error; });
}

/** Owns the top-level actors, the clock, ask defaults, dead letters and unobserved failures. */
export class ActorSystem {
  readonly clock: Clock;
  readonly #top = new Map<string, ChildNode>();
  readonly #host: CellHost;
  readonly #root: ParentNode;
  #deadLetters = 0;
  #stopPromise: Promise<void> | undefined;
  /** Cells draining their mailbox now, and drain() calls waiting for that to reach 0. */
  #busy = 0;
  #idleWaiters: (() => void)[] = [];

  constructor(opts: ActorSystemOptions = {}) {
    const askTimeoutMs = opts.askTimeoutMs ?? 30_000;
    if (typeof askTimeoutMs !== 'number' || !(askTimeoutMs > 0)) {
      throw new SupervisorError('E_INVALID_ARGUMENT', `ActorSystem: askTimeoutMs must be a number > 0 or Infinity (got ${String(askTimeoutMs)})`, { askTimeoutMs });
    }
    this.clock = opts.clock ?? systemClock;
    const onUnhandled = opts.onUnhandledFailure ?? ((f: ActorFailure) => rethrowAsync(actorFailedError(f)));
    const onDeadLetter = opts.onDeadLetter;
    this.#host = {
      clock: this.clock,
      askTimeoutMs,
      deadLetter: (actor, message) => {
        this.#deadLetters++;
        if (!onDeadLetter) return;
        try { onDeadLetter(Object.freeze({ actor, message })); } catch (err) { rethrowAsync(err); }
      },
      unhandledFailure: (failure) => {
        try { onUnhandled(failure); } catch (err) { rethrowAsync(err); }
      },
      busy: (delta) => {
        this.#busy += delta;
        if (this.#busy === 0) for (const wake of this.#idleWaiters.splice(0)) wake();
      },
    };
    this.#root = {
      path: '',
      acceptChildFailure: () => false,
      removeChild: (child) => { if (this.#top.get(child.name) === child) this.#top.delete(child.name); },
    };
  }

  /** Messages dropped so far because their actor was stopping or stopped. */
  get deadLetters(): number {
    return this.#deadLetters;
  }

  /** Top-level actors not yet fully stopped. */
  get size(): number {
    return this.#top.size;
  }

  /** Starts a top-level actor; its failures go to onUnhandledFailure. */
  spawn<M>(name: string, behavior: Behavior<M>): ActorRef<M> {
    checkActorName(name, '');
    if (this.#stopPromise) throw new SupervisorError('E_SYSTEM_STOPPED', `cannot spawn "${name}": the actor system is stopping`, { name });
    if (this.#top.has(name)) throw new SupervisorError('E_ACTOR_NAME_TAKEN', `a top-level actor named "${name}" already exists`, { name });
    const cell = new ActorCell<M>(name, behavior, this.#host, this.#root);
    this.#top.set(name, cell);
    return cell;
  }

  /**
   * Resolves once every actor is idle: no message queued, no handler running, and nothing that
   * settled meanwhile (a microtask, a ready I/O callback) told another one. What is outside the
   * actors is not waited for: a timer not yet due, a write or a child process still running.
   * Tests use it to assert that nothing happened, instead of sleeping.
   */
  async drain(): Promise<void> {
    for (;;) {
      while (this.#busy > 0) await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
      // setImmediate runs after every queued microtask and the I/O callbacks already due.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.#busy === 0) return;
    }
  }

  /** Stops every top-level actor (each after its queue and children); cached, idempotent, never rejects. */
  stop(): Promise<void> {
    this.#stopPromise ??= Promise.all([...this.#top.values()].map((a) => a.stop())).then(() => undefined);
    return this.#stopPromise;
  }
}
