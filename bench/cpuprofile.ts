/**
 * Reads a V8 .cpuprofile (written by `node --cpu-prof`) into what a reader of BENCHMARKS.md
 * needs: the functions with the most self time, and self time per source file.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
// Blocking waits the sampler sees as "running" (a piscina worker parked in Atomics.wait): not CPU.
const WAITING = new Set(['(idle)', 'atomicsWaitLoop']);

interface CallFrame { readonly functionName: string; readonly url: string; readonly lineNumber: number }
interface ProfileNode { readonly id: number; readonly callFrame: CallFrame; readonly children?: readonly number[] }
interface CpuProfile { readonly nodes: readonly ProfileNode[]; readonly samples: readonly number[]; readonly timeDeltas: readonly number[];
  readonly startTime: number; readonly endTime: number }

export interface HotFunction {
  readonly fn: string;
  /** file:line, relative to the project (node: and node_modules paths kept short). */
  readonly where: string;
  readonly selfMs: number;
  readonly selfPct: number;
  /** Time with this function anywhere on the stack (counted once per sample). */
  readonly totalMs: number;
}

export interface ProfileSummary {
  readonly file: string;
  readonly durationMs: number;
  /** Sampled time neither idle nor parked in Atomics.wait (what the thread spent working). */
  readonly busyMs: number;
  readonly top: readonly HotFunction[];
  /** The project's own functions (dist/ or src/) by total time: where the supervisor's code spends, callees included. */
  readonly ownByTotal: readonly HotFunction[];
  readonly byFile: readonly { readonly file: string; readonly selfMs: number; readonly selfPct: number }[];
}

function shortUrl(url: string): string {
  if (!url) return '(native)';
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const nm = path.lastIndexOf('node_modules/');
  if (nm >= 0) return path.slice(nm + 'node_modules/'.length);
  return path.startsWith(ROOT) ? relative(ROOT, path) : path;
}

/** Only the samples between these times (ms since the profile started). */
export interface ProfileWindow { readonly fromMs: number; readonly toMs: number }

/** Summarises one profile (or a window of it): top `limit` functions by self time, and self time per file. */
export function summarizeProfile(profile: CpuProfile, file: string, limit = 15, window?: ProfileWindow): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const keyOf = (n: ProfileNode): string => `${n.callFrame.functionName || '(anonymous)'}\u0000${shortUrl(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const fileSelf = new Map<string, number>();
  let all = 0;
  let idle = 0;
  let at = 0;
  for (let i = 0; i < profile.samples.length; i += 1) {
    at += (profile.timeDeltas[i] ?? 0) / 1000;
    if (window && (at < window.fromMs || at > window.toMs)) continue;
    const dt = (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0) / 1000;
    const node = byId.get(profile.samples[i]!);
    if (!node) continue;
    all += dt;
    if (WAITING.has(node.callFrame.functionName)) { idle += dt; continue; }
    const key = keyOf(node);
    self.set(key, (self.get(key) ?? 0) + dt);
    const f = node.callFrame.url ? shortUrl(node.callFrame.url) : node.callFrame.functionName;
    fileSelf.set(f, (fileSelf.get(f) ?? 0) + dt);
    const onStack = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) onStack.add(keyOf(byId.get(id)!));
    for (const k of onStack) total.set(k, (total.get(k) ?? 0) + dt);
  }
  const busy = all - idle;
  const pct = (ms: number): number => (busy > 0 ? Math.round((ms / busy) * 1000) / 10 : 0);
  const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, limit).map(([key, ms]) => {
    const [fn, where] = key.split('\u0000') as [string, string];
    return { fn, where, selfMs: Math.round(ms), selfPct: pct(ms), totalMs: Math.round(total.get(key) ?? 0) };
  });
  const ownByTotal = [...total.entries()].filter(([key]) => /\u0000(dist|src)\//.test(key)).sort((a, b) => b[1] - a[1]).slice(0, limit).map(([key, ms]) => {
    const [fn, where] = key.split('\u0000') as [string, string];
    return { fn, where, selfMs: Math.round(self.get(key) ?? 0), selfPct: pct(self.get(key) ?? 0), totalMs: Math.round(ms) };
  });
  const byFile = [...fileSelf.entries()].sort((a, b) => b[1] - a[1]).slice(0, limit)
    .map(([f, ms]) => ({ file: f, selfMs: Math.round(ms), selfPct: pct(ms) }));
  const durationMs = window ? Math.min(window.toMs, at) - window.fromMs : (profile.endTime - profile.startTime) / 1000;
  return { file, durationMs: Math.round(durationMs), busyMs: Math.round(busy), top, ownByTotal, byFile };
}

/**
 * Summarises every .cpuprofile in a folder (one per thread of each process that ran with
 * --cpu-prof-dir there). A window is relative to the earliest profile's start (the main thread):
 * all threads of a process share V8's monotonic clock, so workers are shifted onto it.
 */
export async function summarizeProfiles(dir: string, limit = 15, window?: ProfileWindow): Promise<ProfileSummary[]> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.cpuprofile')).sort();
  const profiles: { file: string; profile: CpuProfile }[] = [];
  for (const n of names) profiles.push({ file: join(dir, n), profile: JSON.parse(await readFile(join(dir, n), 'utf8')) as CpuProfile });
  const base = Math.min(...profiles.map((p) => p.profile.startTime));
  return profiles.map(({ file, profile }) => {
    const shift = (profile.startTime - base) / 1000;
    return summarizeProfile(profile, file, limit, window ? { fromMs: window.fromMs - shift, toMs: window.toMs - shift } : undefined);
  });
}
