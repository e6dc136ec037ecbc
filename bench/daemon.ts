/**
 * A real `supervisor run` for a bench workspace: started through the CLI, reached through its
 * control socket (the same `ps` call `supervisor ps --json` makes), stopped with SIGTERM.
 */
import { closeSync, openSync } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { connectControl, type ControlClient } from '../src/ipc/client.js';
import type { HandlerRow } from '../src/supervisor/monitor/types.js';
import type { SupervisorDirs } from './fixtures.js';
import { LONG_RUNNING_NODE_FLAGS } from '../src/supervisor/process/spawner.js';
import { daemonStartEnv } from '../src/supervisor/process/daemon-env.js';
import { CLI, sleep, start } from './proc-tools.js';

export interface BenchDaemon {
  readonly pid: number;
  readonly child: ChildProcess;
  /** A persistent control connection (the in-daemon timing uses it). */
  readonly client: ControlClient;
  /** The rows `supervisor ps --json` prints, over the persistent connection. */
  ps(timeoutMs?: number): Promise<readonly HandlerRow[]>;
  /** Resolves when the process has exited, however. */
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  /** The end of what the daemon wrote to stderr (kept in a file next to its lib dir). */
  stderrTail(chars?: number): Promise<string>;
  /** SIGTERM, wait (bounded), SIGKILL if it does not go; resolves with how it ended. */
  stop(timeoutMs?: number): Promise<{ code: number | null; signal: string | null; graceful: boolean }>;
}

export interface DaemonStartOptions {
  readonly extraArgs?: readonly string[];
  readonly nodeFlags?: readonly string[];
  readonly timeoutMs?: number;
  /** Working directory of the daemon (where --heapsnapshot-signal writes). */
  readonly cwd?: string;
  /** Added to the daemon's environment (its handlers inherit it). */
  readonly env?: Readonly<Record<string, string>>;
}

/** Starts `supervisor run --goal-state <goal>` and waits until its socket answers the handshake. */
export async function startDaemon(ws: SupervisorDirs, goal: string, opts: DaemonStartOptions = {}): Promise<BenchDaemon> {
  // Started as the systemd unit starts it (deploy/ext-supervisor.service): node with the daemon's flags and malloc settings.
  const args = [...LONG_RUNNING_NODE_FLAGS, ...(opts.nodeFlags ?? []), CLI, 'run', '--goal-state', goal, ...ws.dirFlags, '--log-level', 'warn', ...(opts.extraArgs ?? [])];
  const stderrFile = join(dirname(ws.libDir), `${basename(ws.libDir)}-daemon-${Date.now()}.stderr`);
  const errFd = openSync(stderrFile, 'a');
  const { child, exited } = start(process.execPath, args, { stdio: ['ignore', 'ignore', errFd], env: { ...process.env, ...opts.env, ...daemonStartEnv() },
    ...(opts.cwd ? { cwd: opts.cwd } : {}) });
  closeSync(errFd);
  let ended = false;
  void exited.then(() => { ended = true; });
  const socket = join(ws.libDir, 'supervisor.sock');
  const until = Date.now() + (opts.timeoutMs ?? 30_000);
  let client: ControlClient | null = null;
  while (client === null) {
    if (ended) throw new Error(`supervisor run exited early: ${JSON.stringify(await exited)}: ${(await readFile(stderrFile, 'utf8').catch(() => '')).slice(-1000)}`);
    if (Date.now() > until) { child.kill('SIGKILL'); throw new Error('supervisor run: no control socket within the deadline'); }
    if (await access(socket).then(() => true, () => false)) {
      client = await connectControl(socket, { timeoutMs: 30_000 }).catch(() => null);
    }
    if (client === null) await sleep(50);
  }
  const connected = client;
  return {
    pid: child.pid!, child, client: connected, exited,
    stderrTail: async (chars = 2000) => (await readFile(stderrFile, 'utf8').catch(() => '')).slice(-chars),
    ps: (timeoutMs = 30_000) => connected.call('ps', {}, { timeoutMs }) as Promise<readonly HandlerRow[]>,
    async stop(timeoutMs = 60_000) {
      await connected.close().catch(() => {});
      if (!ended) child.kill('SIGTERM');
      const kill = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const how = await exited;
      clearTimeout(kill);
      return { ...how, graceful: how.code === 0 };
    },
  };
}

/** Polls `ps` until `done(rows)` holds or the deadline passes; returns when it held (ms since epoch) or throws. */
export async function waitRows(d: BenchDaemon, done: (rows: readonly HandlerRow[]) => boolean, timeoutMs: number, what: string,
  everyMs = 250): Promise<{ at: number; rows: readonly HandlerRow[] }> {
  const until = Date.now() + timeoutMs;
  let last: readonly HandlerRow[] = [];
  while (Date.now() < until) {
    last = await d.ps();
    if (done(last)) return { at: Date.now(), rows: last };
    await sleep(everyMs);
  }
  const counts = new Map<string, number>();
  for (const r of last) counts.set(`${r.state}/${r.status}`, (counts.get(`${r.state}/${r.status}`) ?? 0) + 1);
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last ps: ${JSON.stringify(Object.fromEntries(counts))}`);
}
