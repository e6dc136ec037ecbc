/** Scrapes the metrics endpoint over real HTTP while a real Runtime applies a goal state of real handler packages. */
import { writeFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Workspace, handlerEntry, type BuiltPackage } from '../../helpers/handlers.js';
import { killLeftovers, liveProcesses } from '../../helpers/fleet.js';
import { parseGoalState } from '../../../src/supervisor/goal/goal-state.js';
import { closePackagePool } from '../../../src/supervisor/packages/pool.js';
import { Runtime } from '../../../src/supervisor/daemon/runtime.js';
import { SupervisorMetrics } from '../../../src/supervisor/metrics/metrics.js';
import { startTestServer } from '../../helpers/http.js';

type MetricsServer = { readonly url: string };

after(() => closePackagePool());

type Samples = Map<string, number>;

/** Parses the text format into `name{k="v",...}` (labels sorted) → value. */
function parseExposition(text: string): Samples {
  const out: Samples = new Map();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => `${k}="${v}"`).sort().join(',');
    out.set(`${m[1]}{${labels}}`, Number(m[3]));
  }
  return out;
}

async function scrape(server: MetricsServer): Promise<{ text: string; samples: Samples }> {
  const res = await fetch(`${server.url}metrics`, { headers: { connection: 'close' } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  return { text, samples: parseExposition(text) };
}

/** Scrapes until `ok` holds (watchers and the sampler report asynchronously); bounded. */
async function scrapeUntil(server: MetricsServer, ok: (s: Samples) => boolean, what: string, maxMs = 5000): Promise<Samples> {
  const until = Date.now() + maxMs;
  for (;;) {
    const { samples, text } = await scrape(server);
    if (ok(samples)) return samples;
    if (Date.now() > until) assert.fail(`metrics never showed ${what}:\n${text.split('\n').filter((l) => l.startsWith('ext_')).join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const ops = (operation: string, result: string): string => `ext_supervisor_operations_total{operation="${operation}",result="${result}"}`;
const perHandler = (metric: string, handler: string): string => `ext_supervisor_${metric}{handler="${handler}"}`;

describe('metrics of a real apply, scraped over HTTP', () => {
  let ws: Workspace;
  let slow: BuiltPackage;
  let broken: BuiltPackage;
  before(async () => {
    ws = await Workspace.create('exts-metrics-');
    slow = await ws.package({ name: 'Contoso.Slow', version: '1.0.0', manifest: { reportHeartbeat: true }, behavior: {
      // a service left running, a heartbeat, and an enable slow enough to be scraped while it runs
      enable: [
        'sleep 300 >/dev/null 2>&1 &',
        `printf '%s' '[{"heartbeat":{"status":"ready","code":0,"formattedMessage":{"lang":"en-US","message":"up"}}}]' > heartbeat.log`,
        // held until the test has scraped (a loaded machine may scrape late), then at least 1 s long
        `while [ ! -e ${JSON.stringify(join(ws.root, 'release-slow'))} ]; do sleep 0.02; done`,
        'sleep 1',
      ].join('\n'),
    } });
    broken = await ws.package({ name: 'Contoso.Broken', version: '1.0.0', behavior: { enable: 'echo cannot start >&2\nrc=3' } });
  });
  after(async () => { await killLeftovers(ws); await ws.dispose(); });

  test('during and after the apply, then after an uninstall', async () => {
    let slowEnableStarted!: () => void;
    const slowEnabling = new Promise<void>((r) => { slowEnableStarted = r; });
    let rowsCalls = 0;
    // Assigned below: the metrics read the runtime, and the runtime is built with the metrics' observe.
    let runtime: Runtime;
    const metrics = new SupervisorMetrics({ rows: () => { rowsCalls += 1; return runtime.rows(); } });
    runtime = new Runtime({ dirs: ws.dirs, graceMs: 300, onEvent: (e) => {
      metrics.observe(e);
      if (e.type === 'operationStarted' && e.handler === 'Contoso.Slow' && e.op === 'enable') slowEnableStarted();
    } });
    const server = await startTestServer({ metrics });
    try {
      const goal = parseGoalState(JSON.stringify({ handlers: [handlerEntry('Contoso.Slow', [slow]), handlerEntry('Contoso.Broken', [broken])] }),
        join(ws.root, 'goal.json'));
      let applyDone = false;
      const applying = runtime.apply(goal).finally(() => { applyDone = true; });
      await Promise.race([slowEnabling, applying.then(() => assert.fail('the apply ended before Contoso.Slow enable started'))]);

      // During: installs are done, the slow enable is running.
      const callsBefore = rowsCalls;
      const during = (await scrape(server)).samples;
      assert.equal(rowsCalls - callsBefore, 1, 'one snapshot read per scrape');
      assert.equal(applyDone, false, 'the scrape was answered while the apply was running');
      assert.equal(during.get('ext_supervisor_goal_state_applications_total{}'), 1);
      assert.ok((during.get(ops('install', 'succeeded')) ?? 0) >= 1);
      assert.ok((during.get(ops('fetch', 'succeeded')) ?? 0) >= 1);
      assert.equal(during.get(ops('enable', 'succeeded')), 0, 'the only enable that can succeed is still running');
      assert.ok((during.get('ext_supervisor_handlers_by_status{status="Installing"}') ?? 0) >= 1);
      assert.ok((during.get('ext_supervisor_handlers{state="Installed"}') ?? 0) >= 1);
      assert.ok((during.get('ext_supervisor_operation_duration_seconds_count{operation="install"}') ?? 0) >= 1);

      await writeFile(join(ws.root, 'release-slow'), '');
      const summary = await applying;
      assert.equal(summary.ok, false, 'Contoso.Broken fails its enable');
      await runtime.settle();

      // After: every operation counted, the states and statuses, the live service's usage.
      const after1 = await scrapeUntil(server, (s) => s.has(perHandler('heartbeat_age_seconds', 'Contoso.Slow')), 'the heartbeat age');
      assert.equal(after1.get(ops('fetch', 'succeeded')), 2);
      assert.equal(after1.get(ops('install', 'succeeded')), 2);
      assert.equal(after1.get(ops('enable', 'succeeded')), 1);
      assert.equal(after1.get(ops('enable', 'failed')), 1);
      assert.equal(after1.get(ops('enable', 'timedOut')), 0);
      assert.equal(after1.get('ext_supervisor_handlers{state="Enabled"}'), 1);
      assert.equal(after1.get('ext_supervisor_handlers{state="Installed"}'), 1);
      assert.equal(after1.get('ext_supervisor_handlers_by_status{status="Ready"}'), 1);
      assert.equal(after1.get('ext_supervisor_handlers_by_status{status="Failed"}'), 1);
      assert.equal(after1.get('ext_supervisor_operation_duration_seconds_count{operation="enable"}'), 2);
      assert.equal(after1.get('ext_supervisor_operation_duration_seconds_count{operation="install"}'), 2);
      assert.ok((after1.get('ext_supervisor_operation_duration_seconds_sum{operation="enable"}') ?? 0) >= 1, 'the slow enable took >= 1 s');
      assert.equal(after1.get('ext_supervisor_operation_duration_seconds_bucket{le="0.5",operation="enable"}'), 1, 'only the failing enable was quick');
      assert.equal(after1.get('ext_supervisor_goal_state_applications_total{}'), 1);
      assert.equal(after1.get('ext_supervisor_report_push_failures_total{}'), 0);
      assert.equal((await liveProcesses(ws)).get('Contoso.Slow')?.length, 1, 'the service enable started is alive');
      assert.ok((after1.get(perHandler('handler_memory_bytes', 'Contoso.Slow')) ?? 0) > 0, 'the live service uses memory');
      assert.ok((after1.get(perHandler('handler_cpu_percent', 'Contoso.Slow')) ?? -1) >= 0);
      assert.equal(after1.get(perHandler('handler_restarts', 'Contoso.Slow')), 0);
      assert.equal(after1.get(perHandler('handler_restarts_total', 'Contoso.Slow')), 0);
      assert.ok((after1.get(perHandler('handler_cpu_seconds_total', 'Contoso.Slow')) ?? -1) >= 0, 'a CPU counter for the live service');
      assert.equal(after1.get('ext_supervisor_handler_status{handler="Contoso.Broken",status="Failed"}'), 1, 'the alert names the failed handler');
      assert.ok((after1.get(perHandler('heartbeat_age_seconds', 'Contoso.Slow')) ?? -1) >= 0);
      assert.equal(after1.get(perHandler('handler_memory_bytes', 'Contoso.Broken')), 0, 'no process, no memory');
      assert.equal(after1.has(perHandler('heartbeat_age_seconds', 'Contoso.Broken')), false, 'no heartbeat watched');
      assert.ok(after1.has('process_resident_memory_bytes{}'), 'the supervisor\'s own process metrics');

      // Uninstall both: their per-handler series go, the counters keep their history.
      const goal2 = parseGoalState(JSON.stringify({ handlers: [
        handlerEntry('Contoso.Slow', [slow], { state: 'uninstall' }), handlerEntry('Contoso.Broken', [broken], { state: 'uninstall' }),
      ] }), join(ws.root, 'goal.json'));
      const summary2 = await runtime.apply(goal2);
      assert.equal(summary2.ok, true);
      await runtime.settle();
      const { samples: after2, text } = await scrape(server);
      assert.doesNotMatch(text, /handler="Contoso\.(Slow|Broken)"/, 'no per-handler series of uninstalled handlers');
      assert.equal(after2.get(ops('disable', 'succeeded')), 1, 'only the enabled handler is disabled first');
      assert.equal(after2.get(ops('uninstall', 'succeeded')), 2);
      assert.equal(after2.get(ops('enable', 'succeeded')), 1);
      assert.equal(after2.get('ext_supervisor_handlers{state="Enabled"}'), 0);
      assert.equal(after2.get('ext_supervisor_handlers{state="Installed"}'), 0);
      assert.equal(after2.get('ext_supervisor_goal_state_applications_total{}'), 2);
      assert.equal((await liveProcesses(ws)).get('Contoso.Slow'), undefined, 'the disable ended the service');
    } finally {
      await server.close();
      await runtime.stop();
      await killLeftovers(ws);
    }
  });
});
