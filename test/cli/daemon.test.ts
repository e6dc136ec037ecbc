import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { Workspace, handlerEntry, opsOf } from '../helpers/handlers.js';
import { killLeftovers, liveProcesses } from '../helpers/fleet.js';
import { runCli } from '../helpers/cli.js';
import { dirFlags, startDaemon, waitFor } from '../helpers/daemon.js';
import { closePackagePool } from '../../src/supervisor/packages/pool.js';
import { exitForRows } from '../../src/cli/health.js';

after(() => closePackagePool());

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

async function psJson(ws: Workspace): Promise<Array<Record<string, any>>> {
  const r = await runCli(['ps', '--json', ...dirFlags(ws)]);
  const rows = JSON.parse(r.stdout);
  assert.equal(r.code, exitForRows(rows), `the exit code follows the rows' health: ${r.stderr}`);
  return rows;
}

describe('supervisor run: the daemon', () => {
  test('applies, re-applies when the goal-state file changes, serves ps/status/report/logs/sessions, stops gracefully', async () => {
    const ws = await Workspace.create('exts-daemon-');
    let daemon;
    try {
      const svc = await ws.package({ name: 'D.Svc', version: '1.0', behavior: {
        // a service: started once, left running by enable (real services check their pid file too)
        enable: 'if ! { [ -f "$here/svc.pid" ] && kill -0 "$(cat "$here/svc.pid")" 2>/dev/null; }; then sleep 300 >/dev/null 2>&1 & echo $! > "$here/svc.pid"; fi',
      } });
      const goalFile = await ws.goalState({ etag: 'one', handlers: [handlerEntry('D.Svc', [svc])] });
      daemon = await startDaemon(ws, goalFile);
      await waitFor(async () => (await psJson(ws)).some((r) => r.name === 'D.Svc' && r.status === 'Ready' && r.pids.length === 1), 60_000, 'D.Svc Ready with its daemon');

      const rows = await psJson(ws);
      const row = rows[0]!;
      for (const key of ['name', 'version', 'desiredState', 'state', 'status', 'code', 'message', 'pids', 'cpuPercent', 'memoryBytes',
        'uptimeSeconds', 'heartbeatAgeSeconds', 'restarts', 'lastOperation', 'extensions']) assert.ok(key in row, `ps --json has ${key}`);
      assert.equal(row.desiredState, 'enabled');
      assert.deepEqual(Object.keys(row.lastOperation).sort(), ['endedAt', 'exitCode', 'name', 'result', 'startedAt']);
      assert.equal(row.lastOperation.name, 'enable');
      assert.ok(row.memoryBytes > 0, 'memory of the live process is sampled');

      const table = await runCli(['ps', ...dirFlags(ws)]);
      assert.match(table.stdout, /^NAME\s+VERSION\s+STATE\s+STATUS\s+PIDS\s+CPU%\s+MEM\s+UPTIME\s+HEARTBEAT\s+RESTARTS\s+LAST-OP$/m);
      assert.match(table.stdout, /^D\.Svc\s+1\.0\s+Enabled\s+Ready\s+\d+\s/m);
      assert.equal(table.stderr, '', 'no "no daemon" note while the daemon runs');

      const status = await runCli(['status', 'D.Svc', ...dirFlags(ws)]);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /Operations:[\s\S]*install\s+1\.0\s+succeeded[\s\S]*enable\s+1\.0\s+succeeded/);
      assert.match(status.stdout, /Processes:[\s\S]*sleep/);
      assert.match(status.stdout, /commandLog\s+.*CommandExecution\.log/);
      const statusJson = JSON.parse((await runCli(['status', 'D.Svc', '--json', ...dirFlags(ws)])).stdout);
      assert.equal(statusJson.processes.length, 1);
      const unknown = await runCli(['status', 'D.Scv', ...dirFlags(ws)]);
      assert.equal(unknown.code, 4, 'no such handler: 4, as systemctl status');
      assert.match(unknown.stderr, /did you mean "D\.Svc"/);

      const report = JSON.parse((await runCli(['report', ...dirFlags(ws)])).stdout);
      assert.equal(report.version, '1.0');
      assert.equal(report.handlers[0].name, 'D.Svc');
      const onDisk = JSON.parse(await readFile(join(ws.libDir, 'status-report.json'), 'utf8'));
      assert.equal(onDisk.handlers[0].status, 'Ready');

      const logs = await runCli(['logs', 'D.Svc', '--lines', '3', ...dirFlags(ws)]);
      assert.equal(logs.code, 0, logs.stderr);
      assert.match(logs.stdout, /D\.Svc enable 1\.0 succeeded exit=0/);

      // the goal changes: a higher sequence number runs enable again
      const before = (await ws.log()).length;
      await writeFile(goalFile, JSON.stringify({ etag: 'two', handlers: [handlerEntry('D.Svc', [svc], {
        extensions: [{ name: 'default', sequenceNumber: 2, publicSettings: { greeting: 'again' } }] })] }));
      await waitFor(async () => opsOf((await ws.log()).slice(before)).includes('enable 1.0'), 60_000, 're-apply after the file changed');
      await waitFor(async () => {
        const s = JSON.parse((await runCli(['sessions', '--json', ...dirFlags(ws)])).stdout);
        return s.length === 2 && s[0].etag === 'two' && s[0].result === 'succeeded';
      }, 60_000, 'the second session');
      const sessions = await runCli(['sessions', ...dirFlags(ws)]);
      assert.match(sessions.stdout, /^ID\s+KIND\s+STARTED\s+ENDED\s+ETAG\s+RESULT\s+HANDLERS\s+REACHED\s+FAILED$/m);
      assert.match(sessions.stdout, /\srun\s.*\stwo\s+succeeded\s+1\s+1\s+0$/m);

      // a second daemon on the same lib dir is refused, naming the first one's pid
      const second = await runCli(['run', '--goal-state', goalFile, ...dirFlags(ws)]);
      assert.equal(second.code, 2);
      assert.match(second.stderr, new RegExp(`pid ${daemon.child.pid}`));

      const oneShot = await runCli(['apply', '--goal-state', goalFile, ...dirFlags(ws)]);
      assert.equal(oneShot.code, 2, 'apply refuses while a daemon runs on the lib dir');
      assert.match(oneShot.stderr, new RegExp(`pid ${daemon.child.pid}`));

      // socket: 0600
      assert.equal((await stat(join(ws.libDir, 'supervisor.sock'))).mode & 0o777, 0o600);

      // graceful stop: the handler's process keeps running
      const pidsBefore = (await liveProcesses(ws)).get('D.Svc');
      assert.equal(pidsBefore?.length, 1);
      const stopped = await runCli(['stop', ...dirFlags(ws)]);
      assert.equal(stopped.code, 0, stopped.stderr);
      const exit = await daemon.done;
      assert.equal(exit.code, 0, exit.stderr);
      assert.deepEqual((await liveProcesses(ws)).get('D.Svc'), pidsBefore, 'handler processes survive the supervisor');
      const log = await readFile(join(ws.logDir, 'supervisor.log'), 'utf8');
      const first = JSON.parse(log.split('\n')[0]!);
      assert.ok(first.time && first.level && first.message, 'supervisor.log is JSON lines with time, level, message');

      // no daemon: ps shows the saved state and says so; stop and logs --follow exit 3
      const offline = await runCli(['ps', '--json', ...dirFlags(ws)]);
      assert.equal(offline.code, 0);
      assert.match(offline.stderr, /no daemon is running/);
      const offRow = JSON.parse(offline.stdout)[0];
      assert.equal(offRow.state, 'Enabled');
      assert.deepEqual(offRow.pids, pidsBefore, 'live processes are found by their attribution');
      assert.equal((await runCli(['stop', ...dirFlags(ws)])).code, 3);
      assert.equal((await runCli(['logs', 'D.Svc', '--follow', ...dirFlags(ws)])).code, 3);
      const offStatus = await runCli(['status', 'D.Svc', ...dirFlags(ws)]);
      assert.equal(offStatus.code, 0);
      assert.match(offStatus.stderr, /no daemon/);
      assert.match(offStatus.stdout, /enable\s+1\.0\s+succeeded/);
      const offReport = await runCli(['report', ...dirFlags(ws)]);
      assert.equal(offReport.code, 0);
      assert.equal(JSON.parse(offReport.stdout).supervisor.status, 'Stopped');

      // restarted: adopts the running handler (same pid), no second enable of an unchanged handler
      const before2 = (await ws.log()).length;
      daemon = await startDaemon(ws, goalFile);
      await waitFor(async () => (await runCli(['sessions', '--json', ...dirFlags(ws)])).stdout.includes('"kind": "run"') &&
        JSON.parse((await runCli(['sessions', '--json', ...dirFlags(ws)])).stdout).length === 3, 60_000, 'the restarted daemon applied');
      assert.deepEqual(opsOf((await ws.log()).slice(before2)), [], 'nothing ran again');
      const adopted = (await psJson(ws)).find((r) => r.name === 'D.Svc')!;
      await waitFor(async () => ((await psJson(ws)).find((r) => r.name === 'D.Svc')!.pids as number[]).length === 1, 60_000, 'sampled pids');
      assert.deepEqual((await psJson(ws)).find((r) => r.name === 'D.Svc')!.pids, pidsBefore);
      assert.equal(adopted.state, 'Enabled');
    } finally {
      await daemon?.stop();
      await killLeftovers(ws);
      await ws.dispose();
    }
  });

  test('a URL goal state is polled with If-None-Match; 304 changes nothing; a new document is applied', async () => {
    const ws = await Workspace.create('exts-url-');
    const a = await ws.package({ name: 'U.A', version: '1.0' });
    let body = JSON.stringify({ etag: 'v1', handlers: [handlerEntry('U.A', [a])] });
    let etag = '"1"';
    const seen: Array<string | undefined> = [];
    let notModified = 0;
    const server: Server = createServer((req, res) => {
      seen.push(req.headers['if-none-match'] as string | undefined);
      if (req.headers['if-none-match'] === etag) { notModified++; res.writeHead(304); res.end(); return; }
      res.writeHead(200, { 'content-type': 'application/json', etag });
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/goal`;
    let daemon;
    try {
      daemon = await startDaemon(ws, url, ['--poll-interval', '0.3']);
      await waitFor(async () => (await psJson(ws)).some((r) => r.name === 'U.A' && r.state === 'Enabled'), 60_000, 'U.A enabled');
      await waitFor(() => notModified >= 2, 60_000, 'two 304 answers');
      assert.equal(seen[0], undefined, 'the first request has no If-None-Match');
      assert.ok(seen.includes('"1"'));
      assert.equal(opsOf(await ws.log()).filter((o) => o.startsWith('enable')).length, 1, '304 applies nothing');
      body = JSON.stringify({ etag: 'v2', handlers: [handlerEntry('U.A', [a], { state: 'disabled' })] });
      etag = '"2"';
      await waitFor(async () => (await psJson(ws)).some((r) => r.name === 'U.A' && r.state === 'Installed'), 60_000, 'U.A disabled');
    } finally {
      await daemon?.stop();
      await new Promise((r) => server.close(r));
      await killLeftovers(ws);
      await ws.dispose();
    }
  });

  test('malformed and oversized socket messages get errors and never crash the daemon; --metrics-listen serves metrics', async () => {
    const ws = await Workspace.create('exts-sock-');
    const goalFile = await ws.goalState({ handlers: [] });
    const port = await freePort();
    const daemon = await startDaemon(ws, goalFile, ['--metrics-listen', String(port)]);
    try {
      const exchange = (payload: string | Buffer): Promise<string> => new Promise((resolve, reject) => {
        const sock = connect(join(ws.libDir, 'supervisor.sock'));
        let got = '';
        sock.setEncoding('utf8');
        sock.on('data', (d: string) => { got += d; if (got.includes('\n')) { sock.destroy(); resolve(got); } });
        sock.on('error', reject);
        sock.on('close', () => resolve(got));
        sock.write(payload);
      });
      assert.match(await exchange('this is not json\n'), /E_MALFORMED|E_PROTOCOL/);
      assert.match(await exchange(Buffer.alloc(2 * 1024 * 1024 + 10, 0x61)), /E_TOO_LARGE/);
      const ps = await runCli(['ps', '--json', ...dirFlags(ws)]);
      assert.equal(ps.code, 0, 'the daemon still answers');
      assert.equal(ps.stdout.trim(), '[]');
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text())).includes('ext_supervisor_goal_state_applications_total 1'),
        5000, 'the metrics endpoint to count the application');
    } finally {
      await daemon.stop();
      await ws.dispose();
    }
  });
});
