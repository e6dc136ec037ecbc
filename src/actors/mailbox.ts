import { SupervisorError } from '../core/errors.js';

// Compacting only past this many taken slots keeps take() O(1) amortised without churn on small queues.
const COMPACT_AFTER = 1024;

/**
 * The FIFO behind each actor: an array with a moving head, so a burst of 10,000 messages
 * costs no Array.shift() copies and an empty mailbox holds no memory beyond one array.
 */
export class Mailbox<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  /** Messages waiting. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Appends at the tail. */
  enqueue(item: T): void {
    this.#items.push(item);
  }

  /** Removes and returns the oldest message; callers check `length` first. */
  take(): T {
    if (this.#head >= this.#items.length) throw new SupervisorError('E_MAILBOX_EMPTY', 'Mailbox.take: the mailbox is empty');
    const item = this.#items[this.#head] as T;
    this.#items[this.#head] = undefined;
    this.#head++;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head >= COMPACT_AFTER && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
}
