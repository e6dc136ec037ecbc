/**
 * `supervisor logs [NAME] [--follow] [--lines N] [--since T] [--output|--no-output] [--op OP]`:
 * a handler's lifecycle lines (CommandExecution.log) interleaved with what its commands printed
 * (log-sources.ts); without NAME every handler's, each line prefixed `NAME | ` (as `pm2 logs`).
 */
import { EXIT, type CliIO } from './io.js';
import { existingDirsOf, logDirFor, tryConnect, type DirFlags } from './connect.js';
import { handlerFiles, handlerNames, outputLine, parseSince, timedLines, type LogFile, type LogLine, type SourceFilter } from './log-sources.js';
import { commandLogPath } from '../supervisor/logging/command-log.js';
import { followFile, lastLines } from '../supervisor/logging/tail-lines.js';

export interface LogsFlags extends DirFlags {
  readonly follow?: boolean;
  /** Given: the last N lines; not given: 50, or every line since `--since`. */
  readonly lines?: number;
  readonly since?: string;
  /** true: only the commands' output; false: only the lifecycle lines; unset: both. */
  readonly output?: boolean;
  readonly op?: string;
}

const DEFAULT_LINES = 50;
const ALL = 10_000_000;

interface Target { readonly name: string; readonly file: LogFile }

export async function logsCommand(name: string | undefined, flags: LogsFlags, io: CliIO): Promise<number> {
  const dirs = existingDirsOf(flags);
  let since: number | null = null;
  if (flags.since !== undefined) {
    since = parseSince(flags.since, Date.now());
    if (since === null) {
      io.stderr(`supervisor logs: --since "${flags.since}" is neither a time (2024-05-01T10:00:00Z) nor a duration (30s, 10m, 2h, 1d)\n`);
      return EXIT.usage;
    }
  }
  const filter: SourceFilter = { lifecycle: flags.output !== true, output: flags.output !== false, ...(flags.op !== undefined ? { op: flags.op } : {}) };
  // The daemon's log dir, not this command's default (as root that was /var/log even for a daemon run with --log-dir).
  const client = await tryConnect(dirs).catch(() => null);
  const logDir = logDirFor(flags, dirs, client);
  await client?.close();
  if (flags.follow && !client) {
    io.stderr(`supervisor logs --follow: no daemon is running on ${dirs.libDir} (start it with supervisor run)\n`);
    return EXIT.noDaemon;
  }
  const targets = async (): Promise<Target[]> => {
    const names = name !== undefined ? [name] : await handlerNames(dirs, logDir);
    const all: Target[] = [];
    for (const n of names) for (const file of await handlerFiles(dirs, logDir, n, filter)) all.push({ name: n, file });
    return all;
  };
  const prefix = (n: string): string => (name === undefined ? `${n} | ` : '');
  const first = await targets();
  if (name !== undefined && first.length === 0 && !flags.follow) {
    io.stderr(`supervisor logs: no command log for "${name}" (${commandLogPath(logDir, name)})\n`);
    return EXIT.usage;
  }
  const n = flags.lines ?? (since === null ? DEFAULT_LINES : ALL);
  for (const line of await recentLines(first, n, since, prefix)) io.stdout(`${line}\n`);
  if (flags.follow) await follow(targets, first, prefix, io);
  return EXIT.ok;
}

/** The last `n` lines of all files, in time order (an output file's lines at its mtime), none before `since`. */
async function recentLines(targets: readonly Target[], n: number, since: number | null, prefix: (n: string) => string): Promise<string[]> {
  const entries: LogLine[] = [];
  for (const { name, file } of targets) {
    if (since !== null && file.mtime < since) continue; // nothing in it was written after `since`
    const lines = await lastLines(file.path, n);
    const timed = file.label ? lines.map((l) => ({ time: file.mtime, text: outputLine(file, l) })) : timedLines(lines, file.mtime);
    for (const e of timed) if (since === null || e.time >= since) entries.push({ time: e.time, text: prefix(name) + e.text });
  }
  // Stable: lines of one file keep their order; rotated files are older than the live one.
  return entries.sort((a, b) => a.time - b.time).slice(-n).map((e) => e.text);
}

/** Follows every live file, and those that appear later (a new operation, version or handler), until SIGINT/SIGTERM. */
async function follow(targets: () => Promise<Target[]>, first: readonly Target[], prefix: (n: string) => string, io: CliIO): Promise<void> {
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const followed = new Set<string>();
  const tasks: Promise<void>[] = [];
  const start = (list: readonly Target[], fromStart: boolean): void => {
    for (const { name, file } of list) {
      if (!file.live || followed.has(file.path)) continue;
      followed.add(file.path);
      const show = (line: string): void => io.stdout(`${prefix(name)}${file.label ? outputLine(file, line) : line}\n`);
      tasks.push(followFile(file.path, show, stop.signal, 250, fromStart));
    }
  };
  try {
    start(first, false);
    while (!stop.signal.aborted) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 500);
        stop.signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
      });
      if (!stop.signal.aborted) start(await targets(), true);
    }
    await Promise.all(tasks);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
