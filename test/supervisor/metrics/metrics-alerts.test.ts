import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { SupervisorMetrics } from '../../../src/supervisor/metrics/metrics.js';
import { supervisorVersion } from '../../../src/core/version-info.js';
import type { HandlerRow, MonitorEvent, ProcessSample } from '../../../src/supervisor/monitor/types.js';

function row(name: string, over: Partial<HandlerRow> = {}): HandlerRow {
  return {
    name, version: '1.0.0', desiredState: 'enabled', state: 'Enabled', status: 'Ready', code: 0, message: 'Plugin enabled',
    pids: [], cpuPercent: 0, memoryBytes: 0, uptimeSeconds: null, heartbeatAgeSeconds: null, heartbeat: null,
    restarts: 0, lastOperation: null, extensions: [], ...over,
  };
}

function sample(used: Record<string, number>): MonitorEvent {
  const handlers = new Map<string, ProcessSample>(Object.entries(used).map(([name, cpuSecondsUsed]) =>
    [name, { pids: [1], cpuPercent: 0, cpuSecondsUsed, memoryBytes: 0, oldestStartMs: null }]));
  return { type: 'processSample', at: 0, handlers };
}

/** The exposition's sample lines for one metric name: 'name{labels}' -> value. */
function lines(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/** promtool must be installed (.ci/run installs Debian's prometheus package): a missing one fails, never skips. */
function promtoolCheck(exposition: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
  if (r.error) assert.fail(`promtool is needed (apt-get install prometheus): ${r.error.message}`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('SupervisorMetrics: series an alert can use', () => {
  test('handler_status has one series per handler and status, 1 for the current one', async () => {
    const rows = [row('A', { status: 'Failed' }), row('B')];
    const text = await new SupervisorMetrics({ rows: async () => rows, processMetrics: false }).registry.metrics();
    const s = lines(text, 'ext_supervisor_handler_status');
    assert.equal(s.size, 10, 'two handlers x five statuses, nothing per process or operation');
    assert.equal(s.get('ext_supervisor_handler_status{handler="A",status="Failed"}'), 1);
    assert.equal(s.get('ext_supervisor_handler_status{handler="A",status="Ready"}'), 0);
    assert.equal(s.get('ext_supervisor_handler_status{handler="B",status="Ready"}'), 1);
    assert.equal(s.get('ext_supervisor_handler_status{handler="B",status="Failed"}'), 0);
  });

  test('CPU seconds add up over samples as a counter; restarts are a counter; a gone handler leaves no series', async () => {
    let rows = [row('A', { restarts: 3 }), row('B')];
    const metrics = new SupervisorMetrics({ rows: async () => rows, processMetrics: false });
    metrics.observe(sample({ A: 1.25 }));
    metrics.observe(sample({ A: 0.5, B: 0 }));
    let text = await metrics.registry.metrics();
    assert.match(text, /^# TYPE ext_supervisor_handler_cpu_seconds_total counter$/m);
    assert.match(text, /^# TYPE ext_supervisor_handler_restarts_total counter$/m);
    assert.equal(lines(text, 'ext_supervisor_handler_cpu_seconds_total').get('ext_supervisor_handler_cpu_seconds_total{handler="A"}'), 1.75);
    assert.equal(lines(text, 'ext_supervisor_handler_cpu_seconds_total').get('ext_supervisor_handler_cpu_seconds_total{handler="B"}'), 0);
    assert.equal(lines(text, 'ext_supervisor_handler_restarts_total').get('ext_supervisor_handler_restarts_total{handler="A"}'), 3);
    rows = [row('B')];
    metrics.observe(sample({ B: 2 }));
    text = await metrics.registry.metrics();
    assert.doesNotMatch(text, /handler="A"/);
    assert.equal(lines(text, 'ext_supervisor_handler_cpu_seconds_total').get('ext_supervisor_handler_cpu_seconds_total{handler="B"}'), 2);
  });

  test('build_info names the supervisor and Node versions', async () => {
    const text = await new SupervisorMetrics({ rows: async () => [], processMetrics: false }).registry.metrics();
    assert.equal(lines(text, 'ext_supervisor_build_info')
      .get(`ext_supervisor_build_info{version="${supervisorVersion()}",nodejs_version="${process.versions.node}"}`), 1);
  });

  test('promtool check metrics accepts the whole exposition, process metrics included', async () => {
    const rows = [row('A', { status: 'Failed', heartbeatAgeSeconds: 4, restarts: 1, memoryBytes: 10, cpuPercent: 5 }), row('B')];
    const metrics = new SupervisorMetrics({ rows: async () => rows, reporterStats: async () => ({ pushFailures: 1 }) });
    metrics.observe(sample({ A: 0.5 }));
    metrics.observe({ type: 'goalApplied', etag: null, source: '/g.json', handlers: [] });
    const text = await metrics.registry.metrics();
    assert.match(text, /^process_cpu_seconds_total /m);
    const r = promtoolCheck(text);
    assert.equal(r.status, 0, r.output);
    assert.equal(r.output.trim(), '', 'no lint finding');
  });

  test('promtool is a real check here: it rejects a gauge named like a counter', () => {
    const r = promtoolCheck('# HELP x_total bad\n# TYPE x_total gauge\nx_total 1\n');
    assert.notEqual(r.status, 0);
    assert.match(r.output, /x_total/);
  });
});
