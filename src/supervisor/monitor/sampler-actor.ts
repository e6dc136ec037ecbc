/**
 * The process sampler: on a schedule (its own timer posting 'tick' into its mailbox), one
 * scan from the shared ProcScanner, grouped by handler, becomes one `processSample` event.
 * `ps` and the report read the snapshot these keep current; nothing samples per request.
 */
import type { ActorParent, ActorRef, Behavior, Reply } from '../../actors/actor.js';
import type { TimerId } from '../../core/clock.js';
import { SupervisorError, showValue } from '../../core/errors.js';
import { scanAttributed, sharedScanner } from '../process/attribution.js';
import type { ProcSnapshot } from '../process/attribution.js';
import type { ProcScanner } from '../process/scanner.js';
import { ProcUsageTracker, loadProcConstants, readUptimeSec, summarizeHandlers, type ProcConstants } from './proc-usage.js';
import type { MonitorEvent } from './types.js';
import type { CgroupGroups } from '../process/cgroup/index.js';
import { GroupUsageTracker } from './group-usage.js';

export type ProcessSampleEvent = Extract<MonitorEvent, { type: 'processSample' }>;

export type SamplerMessage =
  /** Posted by the sampler's own timer (and once at spawn): sample, then schedule the next. */
  | { readonly type: 'tick' }
  /** Samples at once and restarts the schedule from now; replies with the emitted event. */
  | { readonly type: 'sampleNow'; readonly reply: Reply<ProcessSampleEvent> };

export interface SamplerOptions {
  /** The lib dir's id in the attribution mark: only its processes are sampled. */
  readonly libId: string;
  readonly emit: (event: ProcessSampleEvent) => void;
  /** Time between samples on the actor's clock (default 5000 ms). */
  readonly intervalMs?: number;
  /** Scans come from here (default: the process-wide shared scanner). */
  readonly scanner?: ProcScanner<ProcSnapshot>;
  /** Clock ticks, page size, boot time (default: read once per process by loadProcConstants). */
  readonly constants?: ProcConstants;
  /** cgroup mode: usage from the handlers' groups, no /proc walk (the daemon passes isolationFor(libId)). */
  readonly groups?: CgroupGroups | null;
}

/** How often handlers are sampled unless told otherwise (the 5 s). */
export const DEFAULT_SAMPLE_INTERVAL_MS = 5000;

/** Handler groups read between two turns of the event loop (~3 reads each; group-usage.ts). */
const SAMPLE_CHUNK = 250;

/** Checks sampler options at the boundary, naming the field and value of any problem. */
function checkOptions(opts: SamplerOptions): number {
  const intervalMs = opts.intervalMs ?? DEFAULT_SAMPLE_INTERVAL_MS;
  if (typeof intervalMs !== 'number' || !Number.isFinite(intervalMs) || intervalMs <= 0) {
    throw new SupervisorError('E_INVALID_ARGUMENT', `sampler: intervalMs must be a finite number > 0 (got ${showValue(intervalMs)})`, { intervalMs });
  }
  if (typeof opts.libId !== 'string' || !/^[0-9a-f]{12}$/.test(opts.libId)) {
    throw new SupervisorError('E_BAD_LIB_ID', `sampler: libId must be 12 lowercase hex characters (got ${showValue(opts.libId)})`, { libId: opts.libId });
  }
  return intervalMs;
}

/** Builds the sampler's behavior; the first sample happens on the first 'tick' or 'sampleNow'. */
export function samplerBehavior(opts: SamplerOptions): Behavior<SamplerMessage> {
  const intervalMs = checkOptions(opts);
  const scanner = opts.scanner ?? sharedScanner;
  let tracker: ProcUsageTracker | null = opts.constants ? new ProcUsageTracker(opts.constants) : null;
  let timer: TimerId | null = null;
  const cgroups = opts.groups ?? null;
  let groupTracker: GroupUsageTracker | null = null;

  async function sample(now: () => number): Promise<ProcessSampleEvent> {
    if (cgroups !== null) {
      groupTracker ??= new GroupUsageTracker(cgroups, opts.constants ?? await loadProcConstants());
      const handlers = await groupTracker.sampleChunked(readUptimeSec, SAMPLE_CHUNK);
      const event: ProcessSampleEvent = Object.freeze({ type: 'processSample', at: now(), handlers });
      opts.emit(event);
      return event;
    }
    tracker ??= new ProcUsageTracker(await loadProcConstants());
    const groups = await scanAttributed(opts.libId, scanner);
    // Read right after the scan: the tick delta is measured against this monotonic clock.
    const uptimeSec = readUptimeSec();
    const usage = tracker.sample([...groups.values()].flat(), uptimeSec);
    const event: ProcessSampleEvent = Object.freeze({ type: 'processSample', at: now(), handlers: summarizeHandlers(groups, usage) });
    opts.emit(event);
    return event;
  }

  return {
    async receive(msg, ctx) {
      if (timer !== null) ctx.clock.clearTimeout(timer);
      timer = null;
      try {
        const event = await sample(() => ctx.clock.now());
        if (msg.type === 'sampleNow') msg.reply.resolve(event);
      } catch (err) {
        // A failed sample answers the asker; a failed scheduled one goes to the parent as a failure.
        if (msg.type === 'sampleNow') msg.reply.reject(err);
        else throw err;
      } finally {
        timer = ctx.clock.setTimeout(() => ctx.self.tell({ type: 'tick' }), intervalMs);
      }
    },
    onStop(ctx) {
      if (timer !== null) ctx.clock.clearTimeout(timer);
      timer = null;
    },
  };
}

/** Starts the sampler and its schedule: the first sample is taken at once. */
export function spawnSampler(parent: ActorParent, opts: SamplerOptions, name = 'sampler'): ActorRef<SamplerMessage> {
  const ref = parent.spawn(name, samplerBehavior(opts));
  ref.tell({ type: 'tick' });
  return ref;
}
