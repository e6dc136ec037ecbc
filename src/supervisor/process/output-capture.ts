/**
 * Captures a command's stdout/stderr through pipes that the spawner drains into bounded, rotated
 * files (output-sink.ts), instead of handing the command the files themselves.
 *
 * Each pipe is a FIFO made in a private folder, opened at both ends and unlinked at once (Node cannot make a plain
 * pipe: its child pipes are socket pairs, which `> /dev/stdout` in dash cannot reopen). The command
 * gets its end opened read-write: it counts as a reader of its own pipe, so it never gets SIGPIPE
 * when the spawner is gone (it would block once the pipe is full instead); the spawner outlives the
 * supervisor while a capture is open (spawner-main.ts), so daemons started by enable keep being
 * drained across a supervisor restart. docs/decisions.md, "Command output".
 */
import { execFile, execFileSync } from 'node:child_process';
import { closeSync, constants as fsConstants, mkdtempSync, openSync, readdirSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { processStartTime } from '../../storage/lock.js';
import { OutputSink, type OutputBounds } from './output-sink.js';

interface SinkEntry { sink: OutputSink; readers: number }

/** Open sinks by file: a second run of the same operation (its daemon still writing) shares the file. */
const sinks = new Map<string, SinkEntry>();
let openReaders = 0;
let seq = 0;
let onIdle: (() => void) | null = null;
let onSinkError: ((file: string, err: Error) => void) | null = null;

/** Pipes still open (a command or a descendant of it holds its end). */
export function capturesOpen(): number { return openReaders; }

/** Called once no pipe is open any more. */
export function whenNoCaptures(cb: () => void): void { onIdle = cb; }

/** Where write errors of the files go (the spawner's stderr). */
export function onCaptureError(cb: (file: string, err: Error) => void): void { onSinkError = cb; }

function acquireSink(file: string, bounds: OutputBounds): SinkEntry {
  const old = sinks.get(file);
  // A new run starts its file afresh, as it did when commands wrote it themselves (O_TRUNC).
  if (old) old.sink.close();
  const entry: SinkEntry = { sink: new OutputSink(file, bounds), readers: old?.readers ?? 0 };
  sinks.set(file, entry);
  return entry;
}

/**
 * FIFOs are made ahead, 64 with one `mkfifo` in a private folder, and taken as commands start:
 * an exec per command would double the spawner's forks and block it while 40 commands start.
 */
const FIFO_BATCH = 64;
let fifoDir: string | null = null;
const readyFifos: string[] = [];
let refilling = false;

function fifoNames(n: number): string[] {
  return Array.from({ length: n }, () => join(fifoDir!, `${++seq}.fifo`));
}

const FIFO_DIR_PREFIX = 'ext-supervisor-pipes-';
const FIFO_DIR_NAME = new RegExp(`^${FIFO_DIR_PREFIX}(\\d+)-(\\d+)-`);

/**
 * Removes the FIFO folders of spawners that are gone, from `dir` (the temp folder): a spawner
 * SIGKILLed runs no exit hook, and its folder kept the FIFOs made ahead. A folder is named after
 * its spawner's pid and start time (field 22 of /proc/<pid>/stat), so a pid reused since is not
 * taken for its owner; folders of live spawners (other daemons, other lib dirs) are left alone.
 * Returns the folders removed.
 */
export function sweepStaleFifoDirs(dir = tmpdir()): string[] {
  const removed: string[] = [];
  let names: string[];
  try { names = readdirSync(dir); } catch { return removed; }
  for (const name of names) {
    const m = FIFO_DIR_NAME.exec(name);
    if (m === null || processStartTime(Number(m[1])) === m[2]) continue;
    try {
      rmSync(join(dir, name), { recursive: true, force: true });
      removed.push(name);
    } catch { /* another's, or gone: not ours to insist on */ }
  }
  return removed;
}

function makeFifosNow(n: number): void {
  if (fifoDir === null) {
    sweepStaleFifoDirs();
    const dir = mkdtempSync(join(tmpdir(), `${FIFO_DIR_PREFIX}${process.pid}-${processStartTime(process.pid) ?? 0}-`));
    fifoDir = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  const more = fifoNames(Math.max(FIFO_BATCH, n));
  execFileSync('mkfifo', ['-m', '600', '--', ...more], { stdio: 'ignore' });
  readyFifos.push(...more);
}

function takeFifos(n: number): string[] {
  if (readyFifos.length < n) {
    try {
      makeFifosNow(n);
    } catch {
      // The folder may have been removed under a long-lived spawner (a /tmp cleaner): a new one.
      fifoDir = null;
      readyFifos.length = 0;
      makeFifosNow(n);
    }
  }
  const taken = readyFifos.splice(0, n);
  if (readyFifos.length < FIFO_BATCH / 2 && !refilling) {
    refilling = true;
    const more = fifoNames(FIFO_BATCH);
    execFile('mkfifo', ['-m', '600', '--', ...more], (err) => {
      refilling = false;
      if (!err) readyFifos.push(...more);
      else for (const f of more) { try { unlinkSync(f); } catch { /* never made */ } }
    });
  }
  return taken;
}

function makePipes(n: number): { read: number; write: number }[] {
  const fifos = takeFifos(n);
  const opened: number[] = [];
  try {
    return fifos.map((fifo) => {
      const write = openSync(fifo, fsConstants.O_RDWR | fsConstants.O_NOFOLLOW);
      opened.push(write);
      const read = openSync(fifo, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK | fsConstants.O_NOFOLLOW);
      opened.push(read);
      return { read, write };
    });
  } catch (err) {
    for (const fd of opened) closeSync(fd);
    throw err;
  } finally {
    for (const fifo of fifos) { try { unlinkSync(fifo); } catch { /* never made */ } }
  }
}

export interface Capture {
  /** The command's stdout and stderr fds (the same one when both name one file); close after the fork. */
  readonly fds: [number, number];
  closeChildEnds(): void;
  /** Resolves once what the command wrote before it exited is in the files. */
  settled(): Promise<void>;
}

export function openCapture(stdoutFile: string, stderrFile: string, bounds: OutputBounds = {}): Capture {
  const files = stderrFile === stdoutFile ? [stdoutFile] : [stdoutFile, stderrFile];
  // The files first: a missing folder is reported as the file that cannot be opened.
  const entries: SinkEntry[] = [];
  let pipes: { read: number; write: number }[];
  try {
    for (const f of files) entries.push(acquireSink(f, bounds));
    pipes = makePipes(files.length);
  } catch (err) {
    for (const e of entries) if (e.readers === 0) { e.sink.close(); sinks.delete(e.sink.file); }
    throw err;
  }
  let bytes = 0;
  let open = pipes.length;
  pipes.forEach((p, i) => {
    const entry = entries[i]!;
    entry.readers++;
    openReaders++;
    const reader = new Socket({ fd: p.read, readable: true, writable: false });
    reader.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      const before = entry.sink.lastError;
      entry.sink.write(chunk);
      if (entry.sink.lastError && entry.sink.lastError !== before) onSinkError?.(entry.sink.file, entry.sink.lastError);
    });
    reader.on('error', (err) => onSinkError?.(entry.sink.file, err));
    reader.once('close', () => {
      open--;
      openReaders--;
      if (--entry.readers === 0 && sinks.get(entry.sink.file) === entry) {
        entry.sink.close();
        sinks.delete(entry.sink.file);
      }
      if (openReaders === 0) onIdle?.();
    });
  });
  const fds: [number, number] = [pipes[0]!.write, (pipes[1] ?? pipes[0]!).write];
  return {
    fds,
    closeChildEnds: () => { for (const p of pipes) closeSync(p.write); },
    settled: () => new Promise<void>((resolve) => {
      // What the command wrote before it exited is already in the pipe; it is read within the
      // loop turn that saw the exit or the next. Done when a turn brings nothing new.
      let seen = -1;
      const check = (): void => {
        if (open === 0 || bytes === seen) { resolve(); return; }
        seen = bytes;
        setImmediate(check);
      };
      setImmediate(check);
    }),
  };
}
