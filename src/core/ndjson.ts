/**
 * Newline-delimited framing for the control socket: bytes in, complete lines out, and
 * never more than `maxLineBytes` of one unfinished line held in memory.
 */

const NEWLINE = 0x0a;

/** What `LineSplitter.push` found: every complete line was delivered, or one line was too long. */
export type SplitOutcome = 'ok' | 'tooLarge';

/**
 * Splits a byte stream into UTF-8 lines. Works on bytes, not strings, so a multi-byte
 * character split across chunks is decoded whole, and each chunk is scanned only once.
 */
export class LineSplitter {
  readonly maxLineBytes: number;
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(maxLineBytes: number) {
    if (!Number.isSafeInteger(maxLineBytes) || maxLineBytes < 1) {
      throw new RangeError(`maxLineBytes must be a whole number >= 1 (got ${String(maxLineBytes)})`);
    }
    this.maxLineBytes = maxLineBytes;
  }

  /** Bytes of the unfinished line held right now (for tests and memory accounting). */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  /**
   * Feeds one chunk; calls `onLine` for each complete non-blank line (a trailing CR is
   * dropped). Returns 'tooLarge' as soon as a line exceeds the limit, without reading on;
   * the splitter is then spent and keeps nothing.
   */
  feed(chunk: Buffer, onLine: (line: string) => void): SplitOutcome {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(NEWLINE, start);
      if (nl === -1) break;
      if (this.pendingBytes + (nl - start) > this.maxLineBytes) return this.overflow();
      let line: string;
      if (this.pendingBytes === 0) {
        line = chunk.toString('utf8', start, nl);
      } else {
        this.pending.push(chunk.subarray(start, nl));
        line = Buffer.concat(this.pending, this.pendingBytes + (nl - start)).toString('utf8');
        this.pending = [];
        this.pendingBytes = 0;
      }
      start = nl + 1;
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line.trim() !== '') onLine(line);
    }
    const rest = chunk.length - start;
    if (rest > 0) {
      if (this.pendingBytes + rest > this.maxLineBytes) return this.overflow();
      // A tail is copied: a subarray would pin the whole chunk for a few bytes.
      this.pending.push(start === 0 ? chunk : Buffer.from(chunk.subarray(start)));
      this.pendingBytes += rest;
    }
    return 'ok';
  }

  private overflow(): SplitOutcome {
    this.pending = [];
    this.pendingBytes = 0;
    return 'tooLarge';
  }
}
