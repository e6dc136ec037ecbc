/**
 * Prometheus metrics of the supervisor (`--metrics-listen`): event-driven counters and
 * histograms fed by `observe` (the runtime's onEvent), and gauges computed at scrape time
 * from the ps snapshot, so a scrape never walks processes (STYLE habit 11).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { HandlerStatusValue } from '../lifecycle/events.js';
import type { LifecycleState } from '../lifecycle/record.js';
import type { HandlerRow, MonitorEvent } from '../monitor/types.js';
import { supervisorVersion } from '../../core/version-info.js';

export const METRIC_PREFIX = 'ext_supervisor_';

/** Every lifecycle state and status, so each series exists (at 0) from the first scrape on. */
const STATES: readonly LifecycleState[] = ['NotInstalled', 'Installed', 'Enabled', 'FailedUpgrade'];
const STATUSES: readonly HandlerStatusValue[] = ['Ready', 'NotReady', 'Installing', 'Unresponsive', 'Failed'];
const OPERATIONS = ['fetch', 'install', 'enable', 'disable', 'update', 'uninstall'] as const;
const RESULTS = ['succeeded', 'failed', 'timedOut'] as const;

/** prom-client default metrics that break Prometheus' naming rules (gauges with a `_total` suffix). */
const MISNAMED_DEFAULT_METRICS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** Seconds: a quick enable (10 ms) up to the longest default timeout (install, 900 s). */
export const OPERATION_DURATION_BUCKETS: readonly number[] = Object.freeze(
  [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 900]);

export interface SupervisorMetricsOptions {
  /** The current ps rows (Runtime.rows); called once per scrape. */
  readonly rows: () => Promise<readonly HandlerRow[]>;
  /** The reporter's counters (push failures of --report-url); omitted: the counter stays 0. */
  readonly reporterStats?: () => Promise<{ readonly pushFailures: number }>;
  /**
   * prom-client's process and Node metrics (CPU, memory, GC, event-loop lag). Default true. They
   * cost even unscraped: a GC observer entry per collection and an event-loop timer every 10 ms,
   * so the daemon asks for them only when it serves metrics (docs/decisions.md, "Steady state,
   * third round").
   */
  readonly processMetrics?: boolean;
}

/** The supervisor's metrics on a private registry (never prom-client's global one). */
export class SupervisorMetrics {
  readonly registry = new Registry();
  private readonly operations: Counter<'operation' | 'result'>;
  private readonly durations: Histogram<'operation'>;
  private readonly goalApplications: Counter;
  private pendingRows: Promise<readonly HandlerRow[]> | null = null;
  /** CPU seconds per handler, summed from the process samples; a scrape drops handlers no longer listed. */
  private readonly cpuSeconds = new Map<string, number>();

  constructor(private readonly opts: SupervisorMetricsOptions) {
    const registers = [this.registry];
    const rows = (): Promise<readonly HandlerRow[]> => this.scrapeRows();
    this.operations = new Counter({
      name: `${METRIC_PREFIX}operations_total`, help: 'Handler operations (commands and package fetches) by outcome.',
      labelNames: ['operation', 'result'], registers,
    });
    for (const operation of OPERATIONS) for (const result of RESULTS) this.operations.inc({ operation, result }, 0);
    this.durations = new Histogram({
      name: `${METRIC_PREFIX}operation_duration_seconds`, help: 'Duration of handler operations.',
      labelNames: ['operation'], buckets: [...OPERATION_DURATION_BUCKETS], registers,
    });
    this.goalApplications = new Counter({
      name: `${METRIC_PREFIX}goal_state_applications_total`, help: 'Goal states applied (each one is a session).', registers,
    });
    new Gauge({
      name: `${METRIC_PREFIX}handlers`, help: 'Handlers by lifecycle state.', labelNames: ['state'], registers,
      async collect() { setCounts(this, 'state', STATES, (await rows()).map((r) => r.state)); },
    });
    new Gauge({
      name: `${METRIC_PREFIX}handlers_by_status`, help: 'Handlers by status (Ready, NotReady, Installing, Unresponsive, Failed).',
      labelNames: ['status'], registers,
      async collect() { setCounts(this, 'status', STATUSES, (await rows()).map((r) => r.status)); },
    });
    // One series per handler and status (1 = its current one), so an alert can name the failed handler.
    new Gauge({
      name: `${METRIC_PREFIX}handler_status`, help: 'Status of each handler: 1 for its current status, 0 for the others.',
      labelNames: ['handler', 'status'], registers,
      async collect() {
        const current = await rows();
        this.reset();
        for (const r of current) {
          for (const status of STATUSES) this.set({ handler: r.name, status }, r.status === status ? 1 : 0);
          if (!STATUSES.includes(r.status)) this.set({ handler: r.name, status: r.status }, 1);
        }
      },
    });
    // The watchdog's restart count as a counter (rate() and increase() work on it); it falls back to 0 when an enable lifts a give-up.
    new Counter({
      name: `${METRIC_PREFIX}handler_restarts_total`, help: 'Restarts by the heartbeat watchdog.', labelNames: ['handler'], registers,
      async collect() {
        const current = await rows();
        this.reset();
        for (const r of current) this.inc({ handler: r.name }, r.restarts);
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}build_info`, help: 'Always 1; the labels name the supervisor and Node versions.',
      labelNames: ['version', 'nodejs_version'], registers,
    }).set({ version: supervisorVersion(), nodejs_version: process.versions.node }, 1);
    const cpuSeconds = this.cpuSeconds;
    new Counter({
      name: `${METRIC_PREFIX}handler_cpu_seconds_total`, help: 'CPU time used by the handler\'s processes (user and system).',
      labelNames: ['handler'], registers,
      async collect() {
        const current = await rows();
        this.reset();
        const live = new Set(current.map((r) => r.name));
        for (const name of cpuSeconds.keys()) if (!live.has(name)) cpuSeconds.delete(name);
        for (const r of current) this.inc({ handler: r.name }, cpuSeconds.get(r.name) ?? 0);
      },
    });
    perHandlerGauge(registers, 'heartbeat_age_seconds', 'Seconds since the handler last wrote its heartbeat file.', rows,
      (r) => r.heartbeatAgeSeconds);
    perHandlerGauge(registers, 'handler_cpu_percent', 'CPU use of the handler\'s processes, percent of one core.', rows,
      (r) => r.cpuPercent);
    perHandlerGauge(registers, 'handler_memory_bytes', 'Resident memory of the handler\'s processes.', rows, (r) => r.memoryBytes);
    perHandlerGauge(registers, 'handler_restarts', 'Restarts by the heartbeat watchdog.', rows, (r) => r.restarts);
    const reporterStats = opts.reporterStats;
    new Counter({
      name: `${METRIC_PREFIX}report_push_failures_total`, help: 'Failed PUTs of the status report to --report-url.', registers,
      async collect() {
        if (!reporterStats) return;
        const { pushFailures } = await reporterStats();
        this.reset();
        this.inc(pushFailures);
      },
    });
    if (opts.processMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry });
      // Gauges named like counters: promtool rejects them, and a handle count is no alert input.
      for (const name of MISNAMED_DEFAULT_METRICS) this.registry.removeSingleMetric(name);
    }
  }

  /** Folds one runtime event into the event-driven metrics (the runtime's onEvent); other event types are ignored. */
  observe(event: MonitorEvent): void {
    switch (event.type) {
      case 'operationEnded': {
        const { op, result, startedAt, endedAt } = event.result;
        this.operations.inc({ operation: op, result });
        const ms = endedAt - startedAt;
        // A clock stepped back must not record a negative duration (nor a bad timestamp a NaN one).
        if (Number.isFinite(ms)) this.durations.observe({ operation: op }, Math.max(0, ms) / 1000);
        return;
      }
      case 'processSample':
        for (const [name, sample] of event.handlers) {
          const used = sample.cpuSecondsUsed ?? 0;
          if (used > 0 || !this.cpuSeconds.has(name)) this.cpuSeconds.set(name, (this.cpuSeconds.get(name) ?? 0) + Math.max(0, used));
        }
        return;
      case 'goalApplied':
        this.goalApplications.inc();
        return;
      default:
        return;
    }
  }

  /**
   * The rows for the scrape in progress: prom-client calls every collect() synchronously at the
   * start of a scrape, so sharing the in-flight promise gives one rows() call per scrape.
   */
  private scrapeRows(): Promise<readonly HandlerRow[]> {
    if (this.pendingRows) return this.pendingRows;
    const pending = this.opts.rows();
    this.pendingRows = pending;
    const clear = (): void => { if (this.pendingRows === pending) this.pendingRows = null; };
    pending.then(clear, clear);
    return pending;
  }
}

/** Sets one series per known label value (0 when none) plus any value not known in advance. */
function setCounts<L extends string>(gauge: Gauge<L>, label: L, known: readonly string[], values: readonly string[]): void {
  const counts = new Map<string, number>(known.map((k) => [k, 0]));
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  gauge.reset();
  for (const [value, n] of counts) gauge.set({ [label]: value } as Record<L, string>, n);
}

/** A gauge with one series per live handler, rebuilt each scrape so gone handlers leave no series behind. */
function perHandlerGauge(registers: Registry[], name: string, help: string, rows: () => Promise<readonly HandlerRow[]>,
  value: (row: HandlerRow) => number | null): Gauge<'handler'> {
  return new Gauge({
    name: `${METRIC_PREFIX}${name}`, help, labelNames: ['handler'], registers,
    async collect() {
      const current = await rows();
      this.reset();
      for (const row of current) {
        const v = value(row);
        if (v !== null) this.set({ handler: row.name }, v);
      }
    },
  });
}
