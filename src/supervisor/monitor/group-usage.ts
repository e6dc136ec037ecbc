/**
 * Usage of each handler from its kernel group (cgroup mode): CPU from cpu.stat usage_usec (or
 * cpuacct.usage), memory from memory.current (or memory.usage_in_bytes), members from
 * cgroup.procs. No walk of /proc, and no per-process read while a member seen by the last sample
 * is still there: a pid that joined since then started after it (members are forked inside the
 * group), so it cannot be the oldest. Only when no earlier member is left are the new members'
 * stats read, once, for their start times (`uptime` in `ps`). A heartbeat loop forking `sleep`
 * every few seconds so costs no /proc read at all.
 */
import type { CgroupGroups } from '../process/cgroup/index.js';
import { readProcStat, type ProcStat } from '../process/proc.js';
import type { ProcConstants } from './proc-usage.js';
import type { ProcessSample } from './types.js';

interface Previous { readonly cpuUsec: number; readonly atSec: number }

export class GroupUsageTracker {
  #previous = new Map<string, Previous>();
  /** Start time (ms since epoch) of each member seen, by `pid`; forgotten when it leaves its group. */
  #starts = new Map<number, number>();

  /** `readStat` is /proc/<pid>/stat (tests count the reads). */
  constructor(private readonly groups: CgroupGroups, private readonly constants: ProcConstants,
    private readonly readStat: (pid: number) => ProcStat | null = readProcStat) {}

  /** One sample per handler group, measured at `uptimeSec`; empty run groups are removed on the way. */
  sample(uptimeSec: number, opts: { prune?: boolean } = {}): Map<string, ProcessSample> {
    const round = this.#round();
    for (const handler of this.groups.handlers()) round.add(handler, uptimeSec, opts.prune !== false);
    return round.end();
  }

  /**
   * The same, `chunk` handlers at a time with a turn of the event loop between chunks (each chunk
   * measured at its own `uptime()`): 5000 handlers are ~15000 reads, a ~0.3-0.4 s stretch of the
   * daemon's main thread in one piece, which delayed heartbeat deadlines, kills and `ps` behind it.
   */
  async sampleChunked(uptime: () => number, chunk: number): Promise<Map<string, ProcessSample>> {
    const round = this.#round();
    let inChunk = 0;
    let uptimeSec = uptime();
    for (const handler of this.groups.handlers()) {
      if (inChunk === chunk) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        inChunk = 0;
        uptimeSec = uptime();
      }
      round.add(handler, uptimeSec, true);
      inChunk += 1;
    }
    return round.end();
  }

  #round(): { add(handler: string, uptimeSec: number, prune: boolean): void; end(): Map<string, ProcessSample> } {
    const out = new Map<string, ProcessSample>();
    const previous = new Map<string, Previous>();
    const starts = new Map<number, number>();
    return {
      add: (handler, uptimeSec, prune) => { out.set(handler, this.#one(handler, uptimeSec, prune, previous, starts)); },
      end: () => {
        this.#previous = previous;
        this.#starts = starts;
        return out;
      },
    };
  }

  #one(handler: string, uptimeSec: number, prune: boolean, previous: Map<string, Previous>, starts: Map<number, number>): ProcessSample {
    // Only the daemon prunes: a CLI reading without it must not race an `apply` that prepared a run.
    const pids = (prune ? this.groups.prune(handler) : this.groups.members(handler)).sort((a, b) => a - b);
    const usage = this.groups.usage(handler);
    let cpuPercent = 0;
    if (usage.cpuUsec !== null) {
      const prev = this.#previous.get(handler);
      if (prev !== undefined && uptimeSec > prev.atSec && usage.cpuUsec >= prev.cpuUsec) {
        cpuPercent = ((usage.cpuUsec - prev.cpuUsec) / 1e6 / (uptimeSec - prev.atSec)) * 100;
      }
      previous.set(handler, { cpuUsec: usage.cpuUsec, atSec: uptimeSec });
    }
    let oldest: number | null = null;
    let rss = 0;
    // Every member's stat is needed only without a memory counter, or when none of the last sample's members is left.
    const readAll = usage.memoryBytes === null || !pids.some((pid) => this.#starts.has(pid));
    for (const pid of pids) {
      let start = this.#starts.get(pid);
      if (start === undefined && !readAll) continue; // newer than a member still here: not the oldest
      if (start === undefined || usage.memoryBytes === null) {
        const st = this.readStat(pid);
        if (st === null) continue;
        start ??= Math.round(this.constants.bootTimeMs + (st.startTicks / this.constants.clockTicks) * 1000);
        rss += Math.max(0, st.rssPages) * this.constants.pageSize;
      }
      starts.set(pid, start);
      if (oldest === null || start < oldest) oldest = start;
    }
    return Object.freeze({
      pids: Object.freeze(pids), cpuPercent: Math.round(cpuPercent * 10) / 10, memoryBytes: usage.memoryBytes ?? rss, oldestStartMs: oldest,
      ...(usage.nrThrottled > 0 ? { throttled: { count: usage.nrThrottled, ms: Math.round(usage.throttledUsec / 1000) } } : {}),
      ...(usage.oomKills > 0 ? { oomKills: usage.oomKills } : {}),
    });
  }
}
