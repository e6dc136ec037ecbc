/**
 * One handler's share of one goal state, from the moment the fleet hands it out until the
 * handler's actor starts it. A newer goal for the same handler drops a ticket that has not
 * started (coalescing: a busy handler gets only the newest goal when its running operation
 * ends), and its waiter is answered at once instead of waiting behind the running operation.
 */

/** Which goal state: named in the "superseded by" answer. */
export interface GoalRef {
  readonly etag: string | null;
  readonly source: string;
}

export function goalName(ref: GoalRef): string {
  return ref.etag !== null ? `goal state etag ${ref.etag}` : `goal state ${ref.source}`;
}

export class GoalTicket {
  #state: 'queued' | 'started' | 'dropped' = 'queued';
  #by: GoalRef | null = null;
  #resolve!: (by: GoalRef | null) => void;
  /** Resolves when the ticket is dropped: with the goal that took its place, or null when the supervisor stops. */
  readonly dropped = new Promise<GoalRef | null>((resolve) => { this.#resolve = resolve; });

  /** Not started and not dropped: a newer goal may still take its place. */
  get queued(): boolean { return this.#state === 'queued'; }

  /** The goal that took its place (null: withdrawn by a stop, or not dropped). */
  get droppedBy(): GoalRef | null { return this.#by; }

  /** The handler's actor takes the ticket; false when it was dropped meanwhile (its waiter had its answer then). */
  start(): boolean {
    if (this.#state !== 'queued') return false;
    this.#state = 'started';
    return true;
  }

  /** A newer goal (or, with null, a stop) takes the place of a ticket that has not started; false when too late. */
  drop(by: GoalRef | null): boolean {
    if (this.#state !== 'queued') return false;
    this.#state = 'dropped';
    this.#by = by;
    this.#resolve(by);
    return true;
  }
}
