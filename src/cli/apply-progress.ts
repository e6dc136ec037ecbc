/**
 * `supervisor apply`'s progress as handlers settle: on a terminal one live line with the counts,
 * rewritten in place; otherwise (a log, CI) one line per handler, in the order they settled.
 */
import type { HandlerRow } from '../supervisor/monitor/types.js';
import { formatLastOp } from './format.js';
import type { CliIO } from './io.js';

export class ApplyProgress {
  private settledCount = 0;
  private failed = 0;
  /** Rows are asked for one at a time, so the lines keep the order the handlers settled in. */
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly total: number, private readonly io: CliIO, private readonly rowOf: (name: string) => Promise<HandlerRow | null>) {}

  settled(name: string): void {
    this.queue = this.queue.then(async () => {
      const row = await this.rowOf(name).catch(() => null);
      this.settledCount += 1;
      if (row?.status === 'Failed') this.failed += 1;
      const count = `${this.settledCount}/${this.total}`;
      if (this.io.isTTY) {
        this.io.stdout(`\r\x1b[Kapplying: ${count} settled${this.failed ? `, ${this.failed} failed` : ''} (last: ${name}${row ? ` ${row.status}` : ''})`);
      } else {
        this.io.stdout(row ? `[${count}] ${name} ${row.version ?? '-'} ${row.state} ${row.status} ${formatLastOp(row)}\n` : `[${count}] ${name} settled\n`);
      }
    });
  }

  /** Waits for the lines still being written; on a terminal, clears the live line for the table. */
  async finish(): Promise<void> {
    await this.queue;
    if (this.io.isTTY && this.settledCount > 0) this.io.stdout('\r\x1b[K');
  }
}
