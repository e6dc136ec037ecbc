/** The actor runtime's public types: what behaviors, refs and the system's options look like. */
import type { Clock } from '../core/clock.js';

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

/** Anything that can start an actor: the ActorSystem or a parent's context. */
export interface ActorParent {
  spawn<M>(name: string, behavior: Behavior<M>): ActorRef<M>;
}
