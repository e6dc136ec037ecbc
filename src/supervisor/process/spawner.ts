/**
 * The supervisor's side of the spawner process (spawner-main.ts): asks it to start commands,
 * learns their pids and exit statuses. Started on first use, kept alive only while commands run
 * (it never holds a finished supervisor open), restarted on the next spawn if it died.
 *
 * If the spawner dies while commands run, their exit statuses are lost with it: each such command
 * is watched in /proc until it is gone and reported with `lost: true` (the caller reads its exit
 * file, if it has one). Killing is never the spawner's job: the supervisor signals process groups
 * itself, so a dead spawner cannot stop a timeout.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Socket } from 'node:net';
import { isGone, readProcStat } from './proc.js';
import { MAX_SPAWNER_LINE_BYTES, type SpawnRequest, type SpawnerReply, type SpawnerRequest } from './spawner-protocol.js';
import { LineSplitter } from '../../core/ndjson.js';
import type { OutputBounds } from './output-sink.js';

export interface SpawnedExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The spawner died first: the process is gone, but how it ended is not known here. */
  readonly lost: boolean;
}

export interface Spawned {
  readonly pid: number;
  readonly exit: Promise<SpawnedExit>;
}

export type SpawnOrder = Omit<SpawnRequest, 't' | 'id'>;

interface Pending {
  pid: number | null;
  started: { resolve: (pid: number) => void; reject: (err: Error) => void } | null;
  exit: (e: SpawnedExit) => void;
}

export interface SpawnerOptions {
  /** How often a command whose spawner died is looked for in /proc (ms). */
  readonly pollMs?: number;
  /** After how long without a command the spawner process is asked to leave (ms; SPAWNER_IDLE_MS). */
  readonly idleMs?: number;
  /** Bounds of the captured output files (output-sink.ts): size of one file, rotated files kept. */
  readonly output?: OutputBounds;
}

/**
 * V8 grows its young generation to 2 x 16 MiB under allocation bursts (an apply of 1000 handlers)
 * and gives it back slowly; capped at 1 MiB a long-running process stays ~50 MB smaller at the
 * same CPU. And its old generation may grow to 2-4 x the live heap before the next full
 * collection; at 1.2 x the held fleet's daemon peaks ~10 MB lower, at the same CPU within the
 * noise (docs/decisions.md, "Daemon memory"). Only command-line flags set these: the spawner gets
 * them here, the daemon from the systemd unit (deploy/ext-supervisor.service) and the benchmarks.
 */
/**
 * A spawner with nothing to run for this long leaves (~10-20 MB of private memory, 8 % of the
 * daemon's footprint at 1000 handlers), and the next command starts a new one (~40-80 ms here,
 * paid once per burst). Steady state runs no command: heartbeats and status files are watched.
 */
export const SPAWNER_IDLE_MS = 10_000;

export const LONG_RUNNING_NODE_FLAGS: readonly string[] = Object.freeze(['--max-semi-space-size=1', '--heap-growing-percent=20']);

function spawnerCommand(): { file: string; args: string[] } {
  const here = fileURLToPath(import.meta.url);
  const ts = here.endsWith('.ts');
  const script = here.replace(/spawner\.(ts|js)$/, 'spawner-main.$1');
  // A small young generation keeps the spawner small, and a small process forks fast.
  return { file: process.execPath, args: [...LONG_RUNNING_NODE_FLAGS, ...(ts ? ['--import', 'tsx'] : []), script] };
}

export class Spawner {
  private child: ChildProcess | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  private spawnerExited: Promise<void> = Promise.resolve();
  private lingering: (() => void) | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  /** A spawner asked to leave, until it says whether it does (it has no command: new ones go to a new spawner). */
  private retiring: ChildProcess | null = null;
  /** Spawners that left idle or were replaced while retiring: none holds a command, so their exit orphans nothing. */
  private readonly retired = new WeakSet<ChildProcess>();
  /** Spawner processes started so far (1 unless one died or left idle). */
  starts = 0;
  /** Idle spawners asked to leave, and what they answered. */
  readonly retirements = { asked: 0, left: 0, stayed: 0 };

  constructor(private readonly opts: SpawnerOptions = {}) {}

  /** Starts a command; rejects when it could not start (the message says why). */
  spawn(order: SpawnOrder): Promise<Spawned> {
    if (this.closed) return Promise.reject(new Error('the spawner is closed'));
    this.stopIdleTimer();
    let child: ChildProcess;
    try {
      child = this.ensure();
    } catch (err) {
      return Promise.reject(new Error(`cannot start the spawner process: ${(err as Error).message}`));
    }
    const id = this.nextId++;
    let exit!: (e: SpawnedExit) => void;
    const exited = new Promise<SpawnedExit>((resolve) => { exit = resolve; });
    return new Promise<Spawned>((resolve, reject) => {
      this.pending.set(id, { pid: null, exit, started: { resolve: (pid) => resolve({ pid, exit: exited }), reject } });
      this.hold(true);
      const request: SpawnRequest = { t: 'spawn', id, ...order, ...(this.opts.output ? { output: this.opts.output } : {}) };
      child.stdin!.write(`${JSON.stringify(request)}\n`);
    });
  }

  /** Commands started and not yet ended (or not yet started). */
  get running(): number { return this.pending.size; }

  /** Pid of the spawner process, null when none runs. */
  get pid(): number | null { return this.child?.pid ?? null; }

  /**
   * Ends the spawner process (commands it started live on); later spawns are refused. While
   * commands it started still write output, it stays to drain them: close() returns once it says so.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.stopIdleTimer();
    const child = this.child;
    if (child) {
      this.hold(true); // held until it is gone or lingers
      const lingers = new Promise<boolean>((resolve) => { this.lingering = () => resolve(true); });
      child.stdin!.end();
      if (await Promise.race([this.spawnerExited.then(() => false), lingers])) {
        this.hold(false);
        this.child = null;
      }
    }
  }

  private ensure(): ChildProcess {
    if (this.child) return this.child;
    const { file, args } = spawnerCommand();
    // Its stderr is relayed, not inherited: a spawner that stays to drain output must not hold
    // the supervisor's own stderr (a terminal, a test's pipe) open after the supervisor exits.
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], env: process.env });
    child.stderr!.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    this.child = child;
    this.starts++;
    this.spawnerExited = new Promise<void>((resolve) => child.once('exit', () => { this.onSpawnerExit(child); resolve(); }));
    child.once('error', () => { /* reported through 'exit' (or spawn failures through pending rejects) */ });
    child.stdin!.on('error', () => { /* EPIPE after the spawner died: 'exit' handles it */ });
    // Each spawner its own framing: a retiring one may still answer while a new one starts.
    let lines = new LineSplitter(MAX_SPAWNER_LINE_BYTES);
    child.stdout!.on('data', (chunk: Buffer) => {
      // A line past the bound is not the spawner's (it writes small replies): dropped, framing starts over.
      const replies: string[] = [];
      if (lines.feed(chunk, (line) => replies.push(line)) === 'tooLarge') lines = new LineSplitter(MAX_SPAWNER_LINE_BYTES);
      this.onReplies(child, replies);
    });
    this.hold(false);
    return child;
  }

  /** Keeps the event loop alive while commands run, and only then. */
  private hold(on: boolean): void {
    const child = this.child;
    if (!child) return;
    const handles = [child, child.stdin as unknown as Socket | null, child.stdout as unknown as Socket | null, child.stderr as unknown as Socket | null];
    for (const h of handles) {
      if (!h) continue;
      if (on) h.ref(); else h.unref();
    }
  }

  private stopIdleTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  /** No command left: in a while, unless one comes, the spawner is asked to leave. */
  private armIdleTimer(): void {
    if (this.closed || !this.child || this.retiring) return;
    this.stopIdleTimer();
    this.idleTimer = setTimeout(() => this.retireIfIdle(), this.opts.idleMs ?? SPAWNER_IDLE_MS);
    this.idleTimer.unref();
  }

  /**
   * Asks the spawner to leave if no command is running (what the idle timer does); true when
   * asked. A spawn from now on goes to a new spawner, whatever this one answers.
   */
  retireIfIdle(): boolean {
    this.stopIdleTimer();
    const child = this.child;
    if (this.closed || !child || this.pending.size > 0) return false;
    this.retirements.asked++;
    this.retiring = child;
    this.retired.add(child);
    this.child = null;
    const request: SpawnerRequest = { t: 'retire' };
    child.stdin!.write(`${JSON.stringify(request)}\n`);
    return true;
  }

  /** The retiring spawner stays (a command's output pipe is still open, held by a process it left behind). */
  private onStaying(child: ChildProcess): void {
    this.retirements.stayed++;
    if (this.retiring === child) this.retiring = null;
    if (this.child === null && !this.closed) {
      this.retired.delete(child);
      this.child = child;
      // Asked again later: the process holding the pipe may be gone by then.
      this.armIdleTimer();
      return;
    }
    // A new spawner took over meanwhile: this one drains what it holds and leaves, as at close().
    child.stdin!.end();
  }

  private onReplies(child: ChildProcess, replies: readonly string[]): void {
    for (const line of replies) {
      let reply: SpawnerReply;
      try {
        reply = JSON.parse(line) as SpawnerReply;
      } catch {
        continue; // not ours (the spawner writes nothing else there); never worth a daemon crash
      }
      if (reply.t === 'linger') { this.lingering?.(); continue; }
      if (reply.t === 'retiring') { this.retirements.left++; continue; } // its exit follows
      if (reply.t === 'staying') { this.onStaying(child); continue; }
      const p = this.pending.get(reply.id);
      if (!p) continue;
      switch (reply.t) {
        case 'started':
          p.pid = reply.pid;
          p.started?.resolve(reply.pid);
          p.started = null;
          break;
        case 'failed':
          this.pending.delete(reply.id);
          p.started?.reject(new Error(reply.error));
          break;
        case 'exit':
          this.pending.delete(reply.id);
          p.exit({ code: reply.code, signal: reply.signal as NodeJS.Signals | null, lost: false });
          break;
      }
    }
    if (this.pending.size === 0) {
      this.hold(false);
      this.armIdleTimer();
    }
  }

  private onSpawnerExit(child: ChildProcess): void {
    if (this.retiring === child) this.retiring = null;
    // A spawner that retired (or was replaced while retiring) had no command: nothing to orphan.
    if (this.retired.has(child)) return;
    if (this.child === child) this.child = null;
    const orphans = [...this.pending.values()];
    this.pending.clear();
    for (const p of orphans) {
      if (p.started) p.started.reject(new Error('the spawner process ended before the command started'));
      else if (p.pid !== null) void this.watchGone(p.pid).then(() => p.exit({ code: null, signal: null, lost: true }));
    }
  }

  /** Resolves when the process is gone (or a zombie about to be reaped by init). */
  private async watchGone(pid: number): Promise<void> {
    const first = readProcStat(pid);
    if (!first) return;
    for (;;) {
      const st = readProcStat(pid);
      if (!st || isGone(st.state) || st.startTicks !== first.startTicks) return;
      await new Promise((resolve) => setTimeout(resolve, this.opts.pollMs ?? 100));
    }
  }
}
