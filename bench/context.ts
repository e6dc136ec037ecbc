/** What every benchmark gets from bench/run.ts: its size, its deadline, and where to register what it must clean up. */
import type { BenchResult, ExtraTable, Figure } from './report.js';

export interface BenchContext {
  /** Small N: every benchmark end to end in a minute or two, to check the machinery. */
  readonly quick: boolean;
  /** Run the measured supervisor processes under `node --cpu-prof` and summarise the profiles. */
  readonly profile: boolean;
  /** Where .cpuprofile files go (under bench/results/). */
  readonly profileDir: string;
  /** Aborted when the benchmark's time is up: long waits check it and give up. */
  readonly signal: AbortSignal;
  /** Every lib id registered here has its marked processes killed when the benchmark ends, however it ends. */
  readonly libIds: Set<string>;
  /** Temp folders removed when the benchmark ends. */
  readonly cleanups: (() => Promise<void>)[];
  log(message: string): void;
}

/** Throws when the benchmark's deadline passed, so a stuck wait ends the benchmark instead of the run. */
export function checkDeadline(ctx: BenchContext, what: string): void {
  if (ctx.signal.aborted) throw new Error(`deadline reached while ${what}`);
}

/** The parts of a result a benchmark fills in; run.ts adds timing and status. */
export interface BenchOutput {
  readonly figures: Figure[];
  readonly tables: ExtraTable[];
  readonly notes: string[];
  readonly data: Record<string, unknown>;
}

/** One section of BENCHMARKS.md; `error` when that part failed (the others of the same benchmark still count). */
export interface SectionOutput extends BenchOutput {
  readonly name: string;
  readonly title: string;
  error?: string;
}

export interface Benchmark {
  readonly name: string;
  /** The BENCHMARKS.md sections it writes (several benchmarks may share one expensive set-up). */
  readonly sections: readonly { readonly name: string; readonly title: string }[];
  /** Upper bound on its run time; past it the benchmark is aborted and cleaned up. */
  budgetMs(ctx: Pick<BenchContext, 'quick' | 'profile'>): number;
  /** Runs the selected sections (a subset of `sections`). */
  run(ctx: BenchContext, selected: ReadonlySet<string>): Promise<SectionOutput[]>;
}

/** A fresh, empty section to fill in. */
export function newSection(name: string, title: string): SectionOutput {
  return { name, title, figures: [], tables: [], notes: [], data: {} };
}

export type { BenchResult };
