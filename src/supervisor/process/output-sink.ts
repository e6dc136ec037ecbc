/**
 * A command's captured output file, bounded as it is written: the file never grows past
 * `maxBytes`; when the next bytes would not fit, it is rotated (<file> -> <file>.1 -> ... ->
 * <file>.<keep>, the oldest dropped) and writing goes on in a fresh <file>. A cut falls after
 * the last whole line that fits, so lines are split only when one is longer than the bound.
 *
 * Synchronous writes: a local file takes them from the page cache in microseconds, and a reader
 * that never waits keeps the pipe drained (docs/decisions.md, "Command output").
 */
import { closeSync, fstatSync, ftruncateSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { OUTPUT_MODE } from './output-files.js';
import { openTruncatedSync } from '../../storage/handler-file.js';

export interface OutputBounds {
  /** The most bytes one file holds (default 8 MiB). */
  readonly maxBytes?: number;
  /** Rotated files kept beside it, <file>.1 the newest (default 3). */
  readonly keep?: number;
}

export const DEFAULT_OUTPUT_MAX_BYTES = 8 * 1024 * 1024;
export const DEFAULT_OUTPUT_KEEP = 3;

const NL = 0x0a;
const EMPTY = Buffer.alloc(0);

function ignoreMissing(fn: () => void): void {
  try { fn(); } catch (err) { if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; }
}

export class OutputSink {
  readonly maxBytes: number;
  readonly keep: number;
  private fd: number;
  private size = 0;
  /** The bytes after the last newline written to the current file: a line still being written. */
  private tail: Buffer = EMPTY;
  /** Bytes that could not be written (disk full...): the command is never held up by its output. */
  dropped = 0;
  lastError: Error | null = null;

  /** Starts a new run of `file`: truncated, and the rotations of an earlier run removed. */
  constructor(readonly file: string, bounds: OutputBounds = {}) {
    this.maxBytes = Math.max(1, Math.floor(bounds.maxBytes ?? DEFAULT_OUTPUT_MAX_BYTES));
    this.keep = Math.max(0, Math.floor(bounds.keep ?? DEFAULT_OUTPUT_KEEP));
    this.fd = openTruncatedSync(file, OUTPUT_MODE);
    for (let i = 1; i <= this.keep + 1; i++) ignoreMissing(() => unlinkSync(`${file}.${i}`));
  }

  write(chunk: Buffer): void {
    let buf = chunk;
    while (buf.length > 0) {
      const room = this.maxBytes - this.size;
      if (buf.length <= room) { this.put(buf); return; }
      const nl = room > 0 ? buf.lastIndexOf(NL, room - 1) : -1;
      if (nl >= 0) {
        this.put(buf.subarray(0, nl + 1));
        buf = buf.subarray(nl + 1);
      } else if (this.size === 0) {
        // One line longer than the whole file: it is split at the bound.
        this.put(buf.subarray(0, room));
        buf = buf.subarray(room);
      } else if (this.tail.length > 0 && this.tail.length < this.size) {
        // The file ends with the head of a line (a pipe read ends anywhere) whose rest does not fit:
        // the head moves to the next file, so no line is cut at a file boundary.
        const head = this.tail;
        this.cutTail();
        this.rotate();
        this.put(head);
        continue;
      }
      this.rotate();
    }
  }

  close(): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
  }

  private put(buf: Buffer): void {
    if (this.fd < 0) { this.dropped += buf.length; return; }
    let off = 0;
    try {
      while (off < buf.length) off += writeSync(this.fd, buf, off, buf.length - off);
    } catch (err) {
      this.dropped += buf.length - off;
      this.lastError = err as Error;
    }
    this.size += off;
    // What follows the file's last newline, copied (the chunk is the reader's): at most the bound.
    const written = buf.subarray(0, off);
    const nl = written.lastIndexOf(NL);
    this.tail = nl >= 0 ? Buffer.from(written.subarray(nl + 1)) : Buffer.concat([this.tail, written]);
  }

  /** Takes the unfinished last line out of the file (it goes on in the next one). */
  private cutTail(): void {
    try {
      ftruncateSync(this.fd, this.size - this.tail.length);
      this.size -= this.tail.length;
    } catch (err) {
      this.lastError = err as Error;
    }
    this.tail = EMPTY;
  }

  private rotate(): void {
    this.size = 0;
    this.tail = EMPTY;
    try {
      if (this.keep === 0) { ftruncateSync(this.fd, 0); return; }
      for (let i = this.keep - 1; i >= 1; i--) ignoreMissing(() => renameSync(`${this.file}.${i}`, `${this.file}.${i + 1}`));
      renameSync(this.file, `${this.file}.1`);
      closeSync(this.fd);
      this.fd = -1;
      this.fd = openTruncatedSync(this.file, OUTPUT_MODE);
    } catch (err) {
      this.lastError = err as Error;
      // Renamed away or not: never write past the bound; start over in whatever file is open.
      if (this.fd >= 0) { try { ftruncateSync(this.fd, 0); } catch { /* reported through lastError */ } }
    }
    if (this.fd >= 0) { try { this.size = fstatSync(this.fd).size; } catch { /* keep 0 */ } }
  }
}
