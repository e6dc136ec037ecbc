/**
 * Writes the journals the snapshot says changed (journal.ts): batches one after another, a few
 * files at a time, so a burst of 1000 handlers neither floods the thread pool ahead of the
 * handlers' own file work nor lets a removal overtake an earlier save of the same file.
 */
import type { Clock, TimerId } from '../../core/clock.js';
import type { HandlerFiles } from './handler-files.js';
import type { HandlerJournal } from './journal.js';

export type JournalBatch = ReadonlyArray<{ readonly name: string; readonly journal: HandlerJournal | null }>;

/** Files written at once within a batch. */
const CONCURRENCY = 4;

export interface JournalWriterDeps {
  readonly files: HandlerFiles<HandlerJournal>;
  readonly clock: Clock;
  /** How long changes gather before one batch. */
  readonly delayMs: number;
  /** Posts 'the batch is due' to the owner's mailbox, which then takes the batch and hands it to write(). */
  readonly due: () => void;
  /** Told about a journal that could not be written (the next change writes it again). */
  readonly onError: (err: unknown) => void;
}

export class JournalWriter {
  #queue: Promise<void> = Promise.resolve();
  #written = 0;
  #timer: TimerId | null = null;

  constructor(private readonly deps: JournalWriterDeps) {}

  /** A journal changed: the first change arms the one timer; later ones ride on it. */
  changed(): void {
    if (this.#timer !== null) return;
    this.#timer = this.deps.clock.setTimeout(() => { this.#timer = null; this.deps.due(); }, this.deps.delayMs);
  }

  /** The batch is being written now (due, or a flush): the timer is not needed. */
  disarm(): void {
    if (this.#timer !== null) this.deps.clock.clearTimeout(this.#timer);
    this.#timer = null;
  }

  /** Journal files written or removed so far (tests, metrics). */
  get written(): number {
    return this.#written;
  }

  /** Writes (null: removes) each journal of the batch after the batches before it; never rejects. */
  write(batch: JournalBatch): Promise<void> {
    this.disarm();
    if (batch.length === 0) return this.#queue;
    this.#queue = this.#queue.then(() => this.#run(batch)).catch((err: unknown) => this.deps.onError(err));
    return this.#queue;
  }

  /** Resolves once every batch handed in so far is on disk. */
  idle(): Promise<void> {
    return this.#queue;
  }

  async #run(batch: JournalBatch): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < batch.length) {
        const { name, journal } = batch[next++]!;
        try {
          if (journal) await this.deps.files.save(name, journal);
          else await this.deps.files.remove(name);
          this.#written++;
        } catch (err) {
          this.deps.onError(err);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, batch.length) }, worker));
  }
}
