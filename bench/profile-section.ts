/** The "profiles" section of BENCHMARKS.md: the hottest functions of every process run under --cpu-prof. */
import { basename } from 'node:path';
import type { ProfileSummary } from './cpuprofile.js';
import type { BenchResult, RunInfo } from './report.js';

interface LabelledProfile { readonly label: string; readonly summary: ProfileSummary }

// CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread.
function threadOf(file: string): string {
  const parts = basename(file).split('.');
  const tid = parts[parts.length - 3];
  return tid === '0' ? 'main thread' : `worker thread ${tid ?? '?'}`;
}

/** Markdown for every profile the results carry; null when the run took none. */
export function renderProfileSection(results: readonly BenchResult[], info: RunInfo, resultFile: string): string | null {
  const profiles: LabelledProfile[] = [];
  for (const r of results) {
    const p = (r.data as { profiles?: LabelledProfile[] } | null)?.profiles;
    if (Array.isArray(p)) profiles.push(...p);
  }
  if (profiles.length === 0) return null;
  const parts = [`### Profiles (node --cpu-prof)\n\nCommand: \`${info.command}\` — ${info.startedAt}; summaries in \`${resultFile}\`, the .cpuprofile files next to it `
    + '(open them in Chrome DevTools → Performance, or VS Code). "busy" excludes idle time and piscina workers parked in `Atomics.wait`; '
    + 'self % is of busy time; total = time with the function anywhere on the stack.\n'];
  for (const { label, summary } of profiles) {
    // Worker threads that hardly ran (piscina's, parked in Atomics.wait) would only add noise.
    if (summary.busyMs < 100) continue;
    parts.push(`\n**${label}, ${threadOf(summary.file)}**: ${summary.durationMs} ms profiled, ${summary.busyMs} ms busy `
      + `(${Math.round((summary.busyMs / Math.max(1, summary.durationMs)) * 100)} %). Self time by file: `
      + `${summary.byFile.slice(0, 8).map((f) => `${f.file} ${f.selfPct} %`).join(', ')}.\n\n`
      + '| self ms | self % | total ms | function | where |\n|---:|---:|---:|---|---|\n'
      + summary.top.slice(0, 12).map((t) => `| ${t.selfMs} | ${t.selfPct} | ${t.totalMs} | \`${t.fn}\` | ${t.where} |`).join('\n') + '\n'
      + (summary.ownByTotal.length ? `\nThe project's own functions by total time (synchronous part only: an \`await\` ends a sample's stack): `
        + `${summary.ownByTotal.slice(0, 10).map((t) => `\`${t.fn}\` (${t.where}) ${t.totalMs} ms`).join(', ')}.\n` : ''));
  }
  return parts.join('');
}
