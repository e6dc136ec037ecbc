/**
 * Bench results: one JSON file per run under bench/results/, and the tables of BENCHMARKS.md,
 * each between its own markers so a `--only` run rewrites its section and keeps the others
 * (and every line written by hand outside the markers).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
export const RESULTS_DIR = join(BENCH_DIR, 'results');
export const BENCHMARKS_MD = fileURLToPath(new URL('../BENCHMARKS.md', import.meta.url));

/** One measured figure, with the floor it is divided by (measured in the same run) and its target. */
export interface Figure {
  readonly name: string;
  readonly value: number | null;
  readonly unit: string;
  readonly floor?: number | null;
  readonly floorLabel?: string;
  readonly ratio?: number | null;
  readonly target?: string;
  /** null: no target, or it cannot be judged from this run. */
  readonly met?: boolean | null;
}

export interface ExtraTable {
  readonly title: string;
  readonly header: readonly string[];
  readonly rows: readonly (readonly (string | number | null)[])[];
}

export interface BenchResult {
  readonly name: string;
  readonly title: string;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly ok: boolean;
  readonly error?: string;
  readonly figures: readonly Figure[];
  readonly tables: readonly ExtraTable[];
  readonly notes: readonly string[];
  /** Raw samples and everything else worth keeping in the JSON. */
  readonly data: unknown;
}

export interface RunInfo {
  readonly command: string;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly quick: boolean;
  /** The commit built and measured (short hash, "+ src changes" when src/ differed from it). */
  readonly commit: string;
  readonly machine: { readonly cpus: number; readonly node: string; readonly kernel: string; readonly memGiB: number; readonly loadAvgAtStart: readonly number[] };
}

/** Writes the run's JSON; returns its path. */
export async function writeResultFile(info: RunInfo, results: readonly BenchResult[]): Promise<string> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${info.startedAt.replace(/[:.]/g, '-')}${info.quick ? '-quick' : ''}.json`);
  await writeFile(file, `${JSON.stringify({ ...info, results }, null, 2)}\n`);
  return file;
}

function cell(v: string | number | null | undefined): string {
  if (v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v))) return '–';
  return String(v).replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function table(header: readonly string[], rows: readonly (readonly (string | number | null | undefined)[])[]): string {
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const r of rows) lines.push(`| ${r.map(cell).join(' | ')} |`);
  return `${lines.join('\n')}\n`;
}

function metCell(met: boolean | null | undefined): string {
  return met === true ? 'yes' : met === false ? '**no**' : '–';
}

/** The markdown of one benchmark's section (without its markers). */
export function renderSection(r: BenchResult, info: RunInfo, resultFile: string): string {
  const head = `### ${r.title}\n\nCommand: \`${info.command}\` — ${r.startedAt}, commit ${info.commit}, ${info.machine.cpus} cores, Node ${info.machine.node}, `
    + `load average at start ${info.machine.loadAvgAtStart.map((l) => l.toFixed(2)).join(' ')}; ${((r.durationMs) / 1000).toFixed(0)} s; `
    + `raw figures in \`${resultFile}\`${info.quick ? ' (**--quick**: small N, not the figures the targets are about)' : ''}.\n\n`;
  if (!r.ok) return `${head}**Failed:** ${cell(r.error)}\n`;
  const main = table(['figure', 'value', 'floor (same run)', 'ratio', 'target', 'met'], r.figures.map((f) => [
    f.name, f.value === null ? null : `${f.value} ${f.unit}`.trim(),
    f.floor === undefined || f.floor === null ? (f.floorLabel ?? null) : `${f.floor} ${f.unit}${f.floorLabel ? ` (${f.floorLabel})` : ''}`,
    f.ratio === undefined || f.ratio === null ? null : `${f.ratio} ×`, f.target ?? null, metCell(f.met)]));
  const extra = r.tables.map((t) => `\n${t.title}\n\n${table(t.header, t.rows)}`).join('');
  const notes = r.notes.length ? `\n${r.notes.map((n) => `- ${n}`).join('\n')}\n` : '';
  return head + main + extra + notes;
}

const ORDER = ['history', 'apply', 'steady', 'heartbeat', 'kill', 'ps', 'watch', 'curve', 'page', 'peers', 'profile'];
const begin = (name: string): string => `<!-- bench:${name}:begin -->`;
const end = (name: string): string => `<!-- bench:${name}:end -->`;

const PREAMBLE = `# Benchmarks

Written by \`npm run bench\` (bench/run.ts; see bench/README.md). Each section below is rewritten
by the run that measured it and says the exact command. Every figure sits next to a floor
measured in the same run (this 2-core machine is shared and noisy), with its target.
Text outside the \`bench:*\` markers is kept as written.

`;

// The headline figures a history row keeps: section, start of the figure's name, column.
const HEADLINES: readonly [string, string, string][] = [
  ['apply', 'apply wall, N = 1000, concurrency 16 / 16', 'apply 1000, 16/16 (× floor)'],
  ['apply', 'apply wall, N = 1000, concurrency 16 / 1 (defaults)', 'apply 1000, defaults (× floor)'],
  ['steady', 'daemon RSS', 'RSS at 1000 (MB)'],
  ['steady', 'daemon CPU', 'idle CPU (% core)'],
  ['heartbeat', 'heartbeat age when first seen', 'Unresponsive after (s, timeout 20)'],
  ['kill', 'per command: timeout → its last process gone (worst)', 'kill: timeout → gone (s, grace 5)'],
  ['ps', 'supervisor ps --json', 'ps --json (ms)'],
  ['ps', 'ps call inside the daemon', 'ps in daemon (ms)'],
];

/** One row of the history table for a full (not --quick) run: its headline figures, before/after fixes. */
export function historyRow(results: readonly BenchResult[], info: RunInfo, commit: string): string | null {
  if (info.quick) return null;
  const cells = HEADLINES.map(([section, prefix]) => {
    const r = results.find((x) => x.name === section);
    if (!r) return '–';
    if (!r.ok) return 'failed';
    const f = r.figures.find((x) => x.name.startsWith(prefix));
    if (!f) return '–';
    if (f.value === null) return '**failed**';
    const v = section === 'apply' ? `${f.ratio} ×` : `${f.value}`;
    return f.met === false ? `**${v}**` : v;
  });
  if (cells.every((c) => c === '–')) return null;
  return `| ${info.startedAt.slice(0, 16).replace('T', ' ')} | ${commit} | \`${info.command}\` | ${cells.join(' | ')} |`;
}

/** The history section with `row` added under the rows it had (figures that missed their target in bold). */
export async function historySection(row: string): Promise<string> {
  const text = await readFile(BENCHMARKS_MD, 'utf8').catch(() => '');
  const i = text.indexOf(begin('history'));
  const j = text.indexOf(end('history'));
  const old = i >= 0 && j > i ? text.slice(i, j).split('\n').filter((l) => /^\| \d{4}-/.test(l)) : [];
  return `### History of the headline figures\n\nOne row per full run (not \`--quick\`), newest last, so fixes show as before/after; bold: target missed.\n\n`
    + `| run (UTC) | commit | command | ${HEADLINES.map((h) => h[2]).join(' | ')} |\n|${['', '', '', ...HEADLINES].map(() => '---').join('|')}|\n${[...old, row].join('\n')}\n`;
}

/** Replaces (or appends) the sections of the given results in BENCHMARKS.md. */
export async function updateBenchmarksMd(sections: ReadonlyMap<string, string>): Promise<void> {
  let text = await readFile(BENCHMARKS_MD, 'utf8').catch(() => PREAMBLE);
  for (const name of ORDER) {
    const body = sections.get(name);
    if (body === undefined) continue;
    const block = `${begin(name)}\n${body.trimEnd()}\n${end(name)}`;
    const i = text.indexOf(begin(name));
    const j = text.indexOf(end(name));
    if (i >= 0 && j > i) {
      text = text.slice(0, i) + block + text.slice(j + end(name).length);
    } else {
      // Keep the sections in their order: insert before the first later section that exists.
      const later = ORDER.slice(ORDER.indexOf(name) + 1).map((n) => text.indexOf(begin(n))).filter((k) => k >= 0);
      const at = later.length ? Math.min(...later) : text.length;
      const sep = at === text.length && !text.endsWith('\n\n') ? (text.endsWith('\n') ? '\n' : '\n\n') : '';
      text = `${text.slice(0, at)}${sep}${block}\n\n${text.slice(at)}`;
    }
  }
  await writeFile(BENCHMARKS_MD, `${text.trimEnd()}\n`);
}
