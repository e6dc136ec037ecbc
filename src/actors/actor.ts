import { SupervisorError } from '../supervisor/errors.js';
import { systemClock, type Clock } from './clock.js';
import { ActorCell, checkActorName, messageType, type CellHost, type ChildNode, type ParentNode } from './cell.js';

export { STOP_MESSAGE, messageType } from './cell.js';

/** running → stopping (stop requested: queue drains, children stop, onStop) → stopped. */
export type ActorStatus = 'running' | 'stopping' | 'stopped';

/** The answer channel an ask puts into its message; the first call wins, later ones are ignored. */
export interface Reply<R> {
  resolve(value: R): void;
  reject(err: unknown): void;
}

/** A throw or rejection in an actor's receive, onChildFailed or onStop, delivered to its parent as a message. */
export interface ActorFailure {
  readonly type: 'actorFailed';
  /** The failing actor's own name (unique among its siblings). */
  readonly actor: string;
  /** Its full path from the top, names joined by '/'. */
  readonly path: string;
  readonly error: unknown;
  /** The message being handled (STOP_MESSAGE for onStop, the ActorFailure for onChildFailed). */
  readonly message: unknown;
}

/** A message told to an actor that no longer accepts messages. */
export interface DeadLetter {
  readonly actor: string;
  readonly message: unknown;
}

/** What a behavior sees while handling a message. */
export interface ActorContext<M> {
  readonly self: ActorRef<M>;
  readonly name: string;
  readonly path: string;
  readonly clock: Clock;
  /** Starts a child: it stops before this actor does, and its failures come to onChildFailed. */
  spawn<C>(name: string, behavior: Behavior<C>): ActorRef<C>;
}

/** An actor's code. Every hook runs inside the mailbox, one at a time; a returned promise is awaited. */
export interface Behavior<M> {
  receive(msg: M, ctx: ActorContext<M>): void | Promise<void>;
  /** Runs once, last: after the queue drained and every child stopped. */
  onStop?(ctx: ActorContext<M>): void | Promise<void>;
  /** A child failed; without this hook the failure is unobserved and goes to the system's onUnhandledFailure. */
  onChildFailed?(failure: ActorFailure, ctx: ActorContext<M>): void | Promise<void>;
}

/** The only handle to an actor: send, ask, stop. */
export interface ActorRef<M> {
  readonly name: string;
  readonly path: string;
  tell(msg: M): void;
  ask<R>(build: (reply: Reply<R>) => M, timeoutMs?: number): Promise<R>;
  stop(): Promise<void>;
  readonly status: ActorStatus;
  /** True once fully stopped (onStop done); see status for "stop requested". */
  readonly stopped: boolean;
  readonly queueLength: number;
}

export interface ActorSystemOptions {
  /** Clock for ask timeouts and for actors (ctx.clock); systemClock by default. */
  readonly clock?: Clock;
  /** Default ask timeout in ms (> 0, or Infinity); 30 s by default. */
  readonly askTimeoutMs?: number;
  /** A failure no parent observes; by default rethrown asynchronously as E_ACTOR_FAILED. */
  readonly onUnhandledFailure?: (failure: ActorFailure) => void;
  /** Called for every message dropped because its actor was stopping or stopped. */
  readonly onDeadLetter?: (letter: DeadLetter) => void;
}

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

  /** Stops every top-level actor (each after its queue and children); cached, idempotent, never rejects. */
  stop(): Promise<void> {
    this.#stopPromise ??= Promise.all([...this.#top.values()].map((a) => a.stop())).then(() => undefined);
    return this.#stopPromise;
  }
}
