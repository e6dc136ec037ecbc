/**
 * What `supervisor logs` reads for one handler: its command log (lifecycle lines, timestamped)
 * and the raw output of its commands, `<handler dir>/.supervisor/<op>.stdout|.stderr` and their
 * rotated `.1` ... `.N`. Output lines carry no time: each is placed at its file's mtime (when the
 * file was last written), which is how they interleave with the lifecycle lines and what
 * `--since` compares. Everything in the handler dir is read without following links or waiting
 * on a FIFO, and the handler's protected values are masked as in the command log.
 */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { commandLogPath, COMMAND_LOG } from '../supervisor/logging/command-log.js';
import { protectedValuesInFolder } from '../supervisor/monitor/scrub-events.js';
import { scrubText } from '../core/redact.js';
import { readRegularFile } from '../storage/handler-file.js';
import { handlerPaths, stateFile, stateFolder, type SupervisorDirs } from '../storage/layout.js';

export interface LogLine { readonly time: number; readonly text: string }

/** One file to read: the command log, or one operation's stdout or stderr. */
export interface LogFile {
  readonly path: string;
  /** `[enable stdout] `, or '' for the command log. */
  readonly label: string;
  /** Rotated files come before the live one of the same op and stream. */
  readonly rotation: number;
  readonly mtime: number;
  /** Protected values to mask (none for the command log: it is masked when written). */
  readonly secrets: readonly string[];
  readonly live: boolean;
}

export interface SourceFilter {
  /** Lifecycle lines too (false: `--output`). */
  readonly lifecycle: boolean;
  /** Operations' output too (false: `--no-output`). */
  readonly output: boolean;
  /** Only this operation's output (`--op`). */
  readonly op?: string;
}

const TIME = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) /;
const OUTPUT_FILE = /^(.+)\.(stdout|stderr)(?:\.(\d+))?$/;

/** The lines of a command log with their times; a continuation line (indented tails) has its entry's time. */
export function timedLines(lines: readonly string[], fallback: number): LogLine[] {
  let time = fallback;
  return lines.map((text) => {
    const m = TIME.exec(text);
    if (m) time = Date.parse(m[1]!);
    return { time, text };
  });
}

/** An output line as shown: masked, labelled. */
export function outputLine(file: LogFile, line: string): string {
  return file.label + (file.secrets.length ? scrubText(line, file.secrets) : line);
}

/** The installed version(s) of a handler, from its state record: the old one too during a failed upgrade. */
async function versionsOf(dirs: SupervisorDirs, name: string): Promise<string[]> {
  try {
    const buf = await readRegularFile(stateFile(dirs, name), { maxBytes: 4 * 1024 * 1024 });
    if (!buf) return [];
    const rec = JSON.parse(buf.toString('utf8')) as { version?: unknown; previousVersion?: unknown };
    return [rec.previousVersion, rec.version].filter((v): v is string => typeof v === 'string' && v !== '' && !v.includes('/'));
  } catch {
    return []; // a record being rewritten or broken: no output shown rather than no logs at all
  }
}

async function mtimeOf(path: string): Promise<number | null> {
  const st = await lstat(path).catch(() => null);
  return st?.isFile() ? st.mtimeMs : null;
}

/** Every file of one handler the filter selects, oldest first within each op and stream. */
export async function handlerFiles(dirs: SupervisorDirs, logDir: string, name: string, filter: SourceFilter): Promise<LogFile[]> {
  const files: LogFile[] = [];
  if (filter.lifecycle && filter.op === undefined) {
    const path = commandLogPath(logDir, name);
    const mtime = await mtimeOf(path);
    if (mtime !== null) files.push({ path, label: '', rotation: 0, mtime, secrets: [], live: true });
  }
  if (!filter.output) return files;
  for (const version of await versionsOf(dirs, name)) {
    const paths = handlerPaths(dirs, name, version);
    // A folder the handler replaced by a link is not followed.
    if (!(await lstat(paths.outputFolder).then((s) => s.isDirectory(), () => false))) continue;
    const secrets = await protectedValuesInFolder(paths.configFolder);
    for (const entry of await readdir(paths.outputFolder).catch(() => [] as string[])) {
      const m = OUTPUT_FILE.exec(entry);
      if (!m || (filter.op !== undefined && m[1] !== filter.op)) continue;
      const path = join(paths.outputFolder, entry);
      const mtime = await mtimeOf(path);
      if (mtime === null) continue;
      const rotation = m[3] === undefined ? 0 : Number(m[3]);
      files.push({ path, label: `[${m[1]} ${m[2]}] `, rotation, mtime, secrets, live: rotation === 0 });
    }
  }
  return files;
}

/** Handlers that have logs: a command log folder or a state record. */
export async function handlerNames(dirs: SupervisorDirs, logDir: string): Promise<string[]> {
  const names = new Set<string>();
  for (const entry of await readdir(logDir, { withFileTypes: true }).catch(() => [])) {
    if (entry.isDirectory() && (await mtimeOf(join(logDir, entry.name, COMMAND_LOG))) !== null) names.add(entry.name);
  }
  for (const entry of await readdir(stateFolder(dirs)).catch(() => [] as string[])) {
    if (entry.endsWith('.json')) names.add(entry.slice(0, -'.json'.length));
  }
  return [...names].sort();
}

/** `--since`: an ISO time, or a duration back from now (`30s`, `10m`, `2h`, `1d`); null when neither. */
export function parseSince(value: string, now: number): number | null {
  const d = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(value.trim());
  if (d) return now - Number(d[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[d[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  const t = Date.parse(value);
  return Number.isNaN(t) ? null : t;
}
