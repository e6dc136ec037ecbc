/**
 * `<log>/<name>/CommandExecution.log`: every command a handler ran, with start, duration, exit
 * code or signal, timeout, and the tails of stdout/stderr (what `supervisor logs` shows).
 * Appends open and close the file each time: 1000 handlers must not hold 1000 fds open, which a
 * winston file transport per handler would. Rotated by size, keeping a fixed number of files.
 */
import { constants as fsConstants } from 'node:fs';
import { mkdir, open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { OperationResult } from '../lifecycle/events.js';
import { appendRegular } from '../../storage/handler-file.js';

export const COMMAND_LOG = 'CommandExecution.log';

export interface CommandLogOptions {
  readonly logDir: string;
  /** Rotate when the file passes this size (default 10 MB). */
  readonly maxBytes?: number;
  /** Rotated files kept besides the live one (default 2). */
  readonly keep?: number;
}

export function commandLogPath(logDir: string, handler: string): string {
  return join(logDir, handler, COMMAND_LOG);
}

function indent(label: string, text: string): string {
  const body = text.trimEnd();
  return body ? `  [${label}]\n${body.split('\n').map((l) => `    ${l}`).join('\n')}\n` : '';
}

/** The entry written when an operation ends (its start line is written when it starts). */
export function formatEnd(handler: string, r: OperationResult, at: number): string {
  const what = `${r.op}${r.extension ? `(${r.extension})` : ''} ${r.version}`;
  const how = r.result === 'timedOut' ? 'timed out' : r.result;
  const exit = r.exitCode !== null ? ` exit=${r.exitCode}` : r.signal ? ` signal=${r.signal}` : '';
  const head = `${new Date(at).toISOString()} ${handler} ${what} ${how}${exit} code=${r.code} duration=${((r.endedAt - r.startedAt) / 1000).toFixed(3)}s`;
  return `${head}\n${r.result === 'succeeded' ? '' : indent('message', r.message)}`;
}

export function formatStart(handler: string, op: string, version: string, extension: string | null, pid: number | null, at: number): string {
  return `${new Date(at).toISOString()} ${handler} ${op}${extension ? `(${extension})` : ''} ${version} started${pid !== null ? ` pid=${pid}` : ''}\n`;
}

/** Serialises appends per handler and rotates by size; failures go to onError, never thrown. */
export class CommandLog {
  private readonly queues = new Map<string, Promise<void>>();
  /** Text of the write queued next, per handler. */
  private readonly unwritten = new Map<string, string>();
  /** Size of each live file as this process left it (stat once, then counted). */
  private readonly sizes = new Map<string, number>();
  /** Folders made already: a mkdir per line cost more than the write (profiled). */
  private readonly made = new Set<string>();
  private readonly maxBytes: number;
  private readonly keep: number;

  constructor(private readonly opts: CommandLogOptions, private readonly onError: (err: unknown) => void = () => {}) {
    this.maxBytes = opts.maxBytes ?? 10 * 1024 * 1024;
    this.keep = opts.keep ?? 2;
  }

  append(handler: string, text: string): Promise<void> {
    // Lines that arrive while a write is queued join it: one open/append/close for all of them.
    const waiting = this.unwritten.get(handler);
    if (waiting !== undefined) {
      this.unwritten.set(handler, waiting + text);
      return this.queues.get(handler)!;
    }
    this.unwritten.set(handler, text);
    const prev = this.queues.get(handler) ?? Promise.resolve();
    const next = prev.then(() => {
      const batch = this.unwritten.get(handler) ?? '';
      this.unwritten.delete(handler);
      return this.write(handler, batch);
    }).catch(this.onError);
    this.queues.set(handler, next);
    void next.finally(() => { if (this.queues.get(handler) === next) this.queues.delete(handler); });
    return next;
  }

  /** Resolves when every pending append is on disk. */
  async idle(): Promise<void> {
    await Promise.all([...this.queues.values()]);
  }

  private async write(handler: string, text: string): Promise<void> {
    const file = commandLogPath(this.opts.logDir, handler);
    const folder = join(this.opts.logDir, handler);
    if (!this.made.has(folder)) {
      await mkdir(folder, { recursive: true, mode: 0o700 });
      this.made.add(folder);
    }
    const bytes = Buffer.byteLength(text);
    const size = this.sizes.get(file) ?? await this.firstLook(file);
    if (size > 0 && size + bytes > this.maxBytes) {
      await this.rotate(file);
      this.sizes.set(file, 0);
    }
    // The log folder is the handler's (HandlerEnvironment logFolder): a FIFO or link planted as the log is refused, never waited on.
    await appendRegular(file, text, 0o600).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
      // The folder went away (a handler's logs removed by hand): make it again once.
      this.made.delete(folder);
      this.sizes.set(file, 0);
      await mkdir(folder, { recursive: true, mode: 0o700 });
      this.made.add(folder);
      await appendRegular(file, text, 0o600);
    });
    this.sizes.set(file, (this.sizes.get(file) ?? size) + bytes);
  }

  /**
   * The live file's size, the first time this process writes it; a file (or rotated copy) an
   * older version left readable by others becomes 0600 (appendFile's mode only applies to a new file).
   */
  private async firstLook(file: string): Promise<number> {
    let size = 0;
    for (let i = 0; i <= this.keep; i++) {
      // The folder is the handler's too: never follow a link it planted, never block on a FIFO.
      const fh = await open(i === 0 ? file : `${file}.${i}`, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK).catch(() => null);
      if (!fh) continue;
      try {
        const st = await fh.stat();
        if (i === 0) size = st.size;
        if (st.isFile() && (st.mode & 0o077) !== 0) await fh.chmod(0o600);
      } finally {
        await fh.close();
      }
    }
    return size;
  }

  private async rotate(file: string): Promise<void> {
    for (let i = this.keep; i >= 1; i--) {
      const from = i === 1 ? file : `${file}.${i - 1}`;
      await rename(from, `${file}.${i}`).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'ENOENT') throw err; });
    }
  }
}
