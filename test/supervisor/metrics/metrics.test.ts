import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { register as globalRegistry } from 'prom-client';
import { SupervisorMetrics } from '../../../src/supervisor/metrics/metrics.js';
import type { OperationResult } from '../../../src/supervisor/lifecycle/events.js';
import type { HandlerRow, MonitorEvent } from '../../../src/supervisor/monitor/types.js';

function row(name: string, over: Partial<HandlerRow> = {}): HandlerRow {
  return {
    name, version: '1.0.0', desiredState: 'enabled', state: 'Enabled', status: 'Ready', code: 0, message: 'Plugin enabled',
    pids: [], cpuPercent: 0, memoryBytes: 0, uptimeSeconds: null, heartbeatAgeSeconds: null, heartbeat: null,
    restarts: 0, lastOperation: null, extensions: [], ...over,
  };
}

function ended(handler: string, op: OperationResult['op'], result: OperationResult['result'], ms: number): MonitorEvent {
  return { type: 'operationEnded', handler, result: {
    op, version: '1.0.0', extension: null, result, exitCode: result === 'succeeded' ? 0 : 1, signal: null,
    code: result === 'succeeded' ? 0 : 1009, message: '', startedAt: 1_000_000, endedAt: 1_000_000 + ms, pids: [], unkillable: [],
  } };
}

/** name{sorted labels} → value, from the registry's JSON view. */
async function series(metrics: SupervisorMetrics): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const m of await metrics.registry.getMetricsAsJSON()) {
    for (const v of m.values) {
      const labels = Object.entries(v.labels).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => `${k}="${x}"`).join(',');
      out.set(`${(v as { metricName?: string }).metricName ?? m.name}{${labels}}`, v.value);
    }
  }
  return out;
}

describe('SupervisorMetrics: events', () => {
  test('operationEnded counts by operation and result and times the operation; goalApplied counts applications', async () => {
    const metrics = new SupervisorMetrics({ rows: async () => [] });
    metrics.observe(ended('A', 'install', 'succeeded', 2_000));
    metrics.observe(ended('A', 'enable', 'succeeded', 40));
    metrics.observe(ended('B', 'enable', 'failed', 120));
    metrics.observe(ended('B', 'enable', 'timedOut', 300_000));
    metrics.observe(ended('B', 'fetch', 'succeeded', 5));
    metrics.observe({ type: 'goalApplied', etag: null, source: '/g.json', handlers: [] });
    // Events the metrics do not count leave everything alone.
    metrics.observe({ type: 'operationStarted', handler: 'A', op: 'enable', version: '1.0.0', extension: null, startedAt: 0, pid: 1 });
    metrics.observe({ type: 'watch', handler: 'A', spec: null });
    const s = await series(metrics);
    assert.equal(s.get('ext_supervisor_operations_total{operation="install",result="succeeded"}'), 1);
    assert.equal(s.get('ext_supervisor_operations_total{operation="enable",result="succeeded"}'), 1);
    assert.equal(s.get('ext_supervisor_operations_total{operation="enable",result="failed"}'), 1);
    assert.equal(s.get('ext_supervisor_operations_total{operation="enable",result="timedOut"}'), 1);
    assert.equal(s.get('ext_supervisor_operations_total{operation="fetch",result="succeeded"}'), 1);
    assert.equal(s.get('ext_supervisor_operations_total{operation="uninstall",result="failed"}'), 0, 'every combination exists from the start');
    assert.equal(s.get('ext_supervisor_operation_duration_seconds_count{operation="enable"}'), 3);
    assert.equal(s.get('ext_supervisor_operation_duration_seconds_sum{operation="enable"}'), 0.04 + 0.12 + 300);
    assert.equal(s.get('ext_supervisor_operation_duration_seconds_bucket{le="0.05",operation="enable"}'), 1);
    assert.equal(s.get('ext_supervisor_operation_duration_seconds_bucket{le="900",operation="enable"}'), 3);
    assert.equal(s.get('ext_supervisor_operation_duration_seconds_bucket{le="0.01",operation="fetch"}'), 1);
    assert.equal(s.get('ext_supervisor_operation_duration_seconds_count{operation="install"}'), 1);
    assert.equal(s.get('ext_supervisor_goal_state_applications_total{}'), 1);
  });

  test('a negative duration (clock stepped back) is recorded as 0', async () => {
    const metrics = new SupervisorMetrics({ rows: async () => [] });
    metrics.observe(ended('A', 'disable', 'succeeded', -5_000));
    const s = await series(metrics);
    assert.equal(s.get('ext_supervisor_operation_duration_seconds_sum{operation="disable"}'), 0);
    assert.equal(s.get('ext_supervisor_operation_duration_seconds_bucket{le="0.01",operation="disable"}'), 1);
  });
});

describe('SupervisorMetrics: snapshot gauges', () => {
  test('handlers by state and by status, with every known value present', async () => {
    const rows = [row('A'), row('B', { state: 'Installed', status: 'NotReady' }), row('C', { status: 'Unresponsive' }),
      row('D', { state: 'FailedUpgrade', status: 'Failed' })];
    const s = await series(new SupervisorMetrics({ rows: async () => rows }));
    assert.equal(s.get('ext_supervisor_handlers{state="Enabled"}'), 2);
    assert.equal(s.get('ext_supervisor_handlers{state="Installed"}'), 1);
    assert.equal(s.get('ext_supervisor_handlers{state="FailedUpgrade"}'), 1);
    assert.equal(s.get('ext_supervisor_handlers{state="NotInstalled"}'), 0);
    assert.equal(s.get('ext_supervisor_handlers_by_status{status="Ready"}'), 1);
    assert.equal(s.get('ext_supervisor_handlers_by_status{status="NotReady"}'), 1);
    assert.equal(s.get('ext_supervisor_handlers_by_status{status="Unresponsive"}'), 1);
    assert.equal(s.get('ext_supervisor_handlers_by_status{status="Failed"}'), 1);
    assert.equal(s.get('ext_supervisor_handlers_by_status{status="Installing"}'), 0);
  });

  test('per-handler gauges follow the live handlers: a handler that is gone leaves no series', async () => {
    let rows: HandlerRow[] = [
      row('A', { cpuPercent: 12.5, memoryBytes: 4096, heartbeatAgeSeconds: 7, restarts: 2, pids: [10] }),
      row('B', { cpuPercent: 0, memoryBytes: 0 }),
    ];
    const metrics = new SupervisorMetrics({ rows: async () => rows });
    let s = await series(metrics);
    assert.equal(s.get('ext_supervisor_handler_cpu_percent{handler="A"}'), 12.5);
    assert.equal(s.get('ext_supervisor_handler_memory_bytes{handler="A"}'), 4096);
    assert.equal(s.get('ext_supervisor_heartbeat_age_seconds{handler="A"}'), 7);
    assert.equal(s.get('ext_supervisor_handler_restarts{handler="A"}'), 2);
    assert.equal(s.get('ext_supervisor_handler_memory_bytes{handler="B"}'), 0);
    assert.equal(s.has('ext_supervisor_heartbeat_age_seconds{handler="B"}'), false, 'no heartbeat, no age series');

    rows = [row('B', { memoryBytes: 100 })];
    s = await series(metrics);
    assert.deepEqual([...s.keys()].filter((k) => k.includes('handler="A"')), []);
    assert.equal(s.get('ext_supervisor_handler_memory_bytes{handler="B"}'), 100);
    assert.equal(s.get('ext_supervisor_handlers{state="Enabled"}'), 1);
  });

  test('one rows() call per scrape, shared by every gauge', async () => {
    let calls = 0;
    const metrics = new SupervisorMetrics({ rows: async () => { calls += 1; return [row('A')]; } });
    await metrics.registry.metrics();
    assert.equal(calls, 1);
    await metrics.registry.metrics();
    assert.equal(calls, 2, 'the next scrape reads a fresh snapshot');
  });

  test('a failing rows() fails the scrape with its error', async () => {
    const metrics = new SupervisorMetrics({ rows: async () => { throw new Error('reporter stopped'); } });
    await assert.rejects(metrics.registry.metrics(), /reporter stopped/);
  });
});

describe('SupervisorMetrics: registry', () => {
  test('report push failures come from the reporter stats, 0 without them', async () => {
    let failures = 3;
    const withStats = new SupervisorMetrics({ rows: async () => [], reporterStats: async () => ({ pushFailures: failures }) });
    assert.equal((await series(withStats)).get('ext_supervisor_report_push_failures_total{}'), 3);
    failures = 5;
    assert.equal((await series(withStats)).get('ext_supervisor_report_push_failures_total{}'), 5);
    const without = new SupervisorMetrics({ rows: async () => [] });
    assert.equal((await series(without)).get('ext_supervisor_report_push_failures_total{}'), 0);
  });

  test('each instance has a private registry with the default process metrics; the global one stays empty', async () => {
    const a = new SupervisorMetrics({ rows: async () => [] });
    const b = new SupervisorMetrics({ rows: async () => [] });
    a.observe({ type: 'goalApplied', etag: 'x', source: 's', handlers: [] });
    assert.equal((await series(b)).get('ext_supervisor_goal_state_applications_total{}'), 0);
    const text = await a.registry.metrics();
    assert.match(text, /^process_cpu_user_seconds_total \d/m);
    assert.match(text, /^nodejs_heap_size_used_bytes \d/m);
    assert.match(text, /^ext_supervisor_goal_state_applications_total 1$/m);
    assert.equal(globalRegistry.getSingleMetric('ext_supervisor_operations_total'), undefined);
    assert.equal(globalRegistry.getSingleMetric('process_cpu_user_seconds_total'), undefined);
  });

  test('without process metrics (a daemon that serves none): the supervisor series only, and no timer or handle started', async () => {
    const before = process.getActiveResourcesInfo().length;
    const bare = new SupervisorMetrics({ rows: async () => [], processMetrics: false });
    const text = await bare.registry.metrics();
    assert.doesNotMatch(text, /^process_|^nodejs_/m);
    assert.match(text, /^ext_supervisor_operations_total\{/m);
    assert.equal(process.getActiveResourcesInfo().length, before, 'no timer or handle was started');
  });
});
