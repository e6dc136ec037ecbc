/**
 * `supervisor run --http-listen`: a real daemon, real HTTP on 127.0.0.1. Every route, /events
 * seeing a handler disabled and enabled through the goal-state file (waiting on the stream only),
 * /readyz before and after the first goal, the alias, the token rule on a non-loopback address,
 * and a planted protected setting that no route's body holds.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Workspace, handlerEntry } from '../helpers/handlers.js';
import { killLeftovers } from '../helpers/fleet.js';
import { runCli } from '../helpers/cli.js';
import { dirFlags, startDaemon, waitFor, type RunningDaemon } from '../helpers/daemon.js';
import { call, freePort, openEvents } from '../helpers/http.js';
import { leaksIn, makeSecret, walkTree, type Capture } from '../helpers/secrets.js';
import { closePackagePool } from '../../src/supervisor/packages/pool.js';
import type { HandlerRow } from '../../src/supervisor/monitor/types.js';

after(() => closePackagePool());

const secret = makeSecret();
const ext = () => [{ name: 'default', sequenceNumber: 1, publicSettings: { mode: 'fast' }, protectedSettings: secret.value,
  protectedSettingsCertThumbprint: 'ABCDEF0123' }];

describe('supervisor run --http-listen', () => {
  test('every route on a real daemon; /events follows a disable and an enable; /readyz; no protected setting anywhere', async () => {
    const ws = await Workspace.create('exts-http-');
    const port = await freePort();
    const base = `http://127.0.0.1:${port}/`;
    let daemon: RunningDaemon | null = null;
    try {
      const release = join(ws.root, 'release');
      const ok = await ws.package({ name: 'H.Ok', version: '1.0', behavior: {
        install: `while [ ! -f '${release}' ]; do sleep 0.05; done` } });
      // Prints its settings file (the secret) and fails: the failure message carries the output's tail.
      const leaky = await ws.package({ name: 'H.Leaky', version: '1.0', behavior: { enable: 'cat config/*.settings; cat config/*.settings >&2; rc=3' } });
      const goal = (okState: string, etag: string) => ({ etag, handlers: [
        handlerEntry('H.Ok', [ok], { state: okState, extensions: ext() }), handlerEntry('H.Leaky', [leaky], { extensions: ext() })] });
      const goalFile = await ws.goalState(goal('enabled', 'one'));
      // Both names of the one server, agreeing.
      daemon = await startDaemon(ws, goalFile, ['--http-listen', `127.0.0.1:${port}`, '--metrics-listen', `127.0.0.1:${port}`]);

      const notYet = await call(base, { path: '/readyz' });
      assert.equal(notYet.status, 503, notYet.body);
      assert.match(JSON.parse(notYet.body).reason, /^(no goal state read yet|applying the first goal state \(etag one\): 2 handlers)$/);
      await writeFile(release, '');
      await waitFor(async () => (await call(base, { path: '/readyz' })).status === 200, 60_000, '/readyz to answer 200');

      const captures: Capture[] = [];
      const get = async (path: string, status = 200) => {
        const r = await call(base, { path });
        assert.equal(r.status, status, `${path}: ${r.body.slice(0, 500)}`);
        assert.equal(r.headers['content-security-policy'], "default-src 'self'", path);
        assert.equal(r.headers['x-content-type-options'], 'nosniff', path);
        captures.push({ where: `GET ${path}`, text: `${JSON.stringify(r.headers)}\n${r.body}` });
        return r;
      };

      const stream = await openEvents(`${base}events`);
      try {
        const snapshot = JSON.parse((await stream.next((e) => e.event === 'snapshot')).data) as { at: string; rows: HandlerRow[] };
        assert.equal(stream.events[0]!.retry, 3000);
        assert.ok(!Number.isNaN(Date.parse(snapshot.at)), snapshot.at);
        assert.deepEqual(snapshot.rows.map((r) => r.name), ['H.Leaky', 'H.Ok']);
        const okRow = (e: { event: string; data: string }) => e.event === 'rows'
          ? (JSON.parse(e.data) as { rows: HandlerRow[] }).rows.find((r) => r.name === 'H.Ok') ?? null : null;
        const sawOk = (pred: (r: HandlerRow) => boolean) => (e: { event: string; data: string }) => { const r = okRow(e); return r !== null && pred(r); };
        const snapOk = snapshot.rows.find((r) => r.name === 'H.Ok')!;
        if (!(snapOk.state === 'Enabled' && snapOk.status === 'Ready')) await stream.next(sawOk((r) => r.state === 'Enabled' && r.status === 'Ready'));

        // Through the goal-state file: disabled, then enabled again; the stream tells both.
        let from = stream.events.length;
        await ws.goalState(goal('disabled', 'two'));
        await stream.next(sawOk((r) => r.desiredState === 'disabled' && r.state === 'Installed' && r.lastOperation?.name === 'disable'
          && r.lastOperation.result === 'succeeded'), from);
        from = stream.events.length;
        await ws.goalState(goal('enabled', 'three'));
        await stream.next(sawOk((r) => r.desiredState === 'enabled' && r.state === 'Enabled' && r.status === 'Ready'), from);
        for (const e of stream.events) {
          if (e.event === 'rows' || e.event === 'snapshot') assert.ok(!Number.isNaN(Date.parse(JSON.parse(e.data).at)));
          else assert.ok(e.retry === 3000 || e.comment === 'keepalive', JSON.stringify(e));
        }
      } finally {
        stream.close();
        await stream.closed;
        captures.push({ where: 'GET /events', text: stream.events.map((e) => `${e.event}\n${e.data}`).join('\n') });
      }

      // The JSON routes are the CLI's JSON, byte for byte, once the last goal's work is over (nothing
      // here has processes or a heartbeat, so nothing moves then).
      await waitFor(async () => (await readFile(join(ws.logDir, 'supervisor.log'), 'utf8')).includes('goal state etag three applied'),
        60_000, 'the last goal state applied');
      const psCli = await runCli(['ps', '--json', ...dirFlags(ws)]);
      assert.equal((await get('/api/ps')).body, psCli.stdout);
      for (const name of ['H.Ok', 'H.Leaky']) {
        const cli = await runCli(['status', name, '--json', ...dirFlags(ws)]);
        assert.equal((await get(`/api/status/${name}`)).body, cli.stdout, name);
      }
      const leakyRow = (JSON.parse(psCli.stdout) as HandlerRow[]).find((r) => r.name === 'H.Leaky')!;
      assert.equal(leakyRow.status, 'Failed');
      assert.match(leakyRow.message, /\(redacted\)|\*\*\*/, `the failure message carries the (masked) settings: ${leakyRow.message}`);
      const unknown = await get('/api/status/H.Nope', 404);
      assert.equal(JSON.parse(unknown.body).error, 'E_UNKNOWN_HANDLER');
      assert.match(JSON.parse(unknown.body).message, /^no handler named "H\.Nope"/);

      const page = await get('/');
      assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
      assert.equal(page.headers['cache-control'], 'no-cache');
      assert.ok(page.headers['etag']);
      assert.match(page.body, /<html/);
      const metrics = await get('/metrics');
      assert.match(metrics.body, /^ext_supervisor_goal_state_applications_total 3$/m);
      assert.equal(JSON.parse((await get('/healthz')).body).status, 'ok');
      assert.deepEqual(JSON.parse((await get('/readyz')).body), { status: 'ready', reason: 'the first goal state has been applied' });
      assert.equal(JSON.parse((await get('/nothing/here', 404)).body).error, 'E_NOT_FOUND');
      assert.equal((await call(base, { path: '/api/ps', method: 'POST' })).status, 405);

      assert.deepEqual(leaksIn(secret, captures), [], 'no route serves the protected setting');
      // The secret did reach the handler (the test would prove nothing otherwise).
      const settings = (await walkTree(ws.libDir)).filter((f) => /H\.Leaky-1\.0\/config\/.*\.settings$/.test(f.rel));
      assert.ok(settings.some((f) => f.data.includes(JSON.stringify(secret.value).slice(1, -1))), 'the settings file holds the secret');
    } finally {
      const result = daemon ? await daemon.stop() : null;
      if (result) assert.equal(result.code, 0, result.stderr);
      if (result) assert.match(result.stderr, new RegExp(`http on http://127\\.0\\.0\\.1:${port}/`));
      await killLeftovers(ws);
      await ws.dispose();
    }
  });

  test('usage errors: the alias disagreeing, a non-loopback address without a token, a token file others can read or that is empty', async () => {
    const ws = await Workspace.create('exts-http-usage-');
    try {
      const goalFile = await ws.goalState({ handlers: [] });
      const run = (...extra: string[]) => runCli(['run', '--goal-state', goalFile, ...dirFlags(ws), ...extra]);
      const differ = await run('--http-listen', '8477', '--metrics-listen', '9464');
      assert.equal(differ.code, 2);
      assert.match(differ.stderr, /--http-listen "8477" and --metrics-listen "9464" differ/);
      const open = await run('--http-listen', '0.0.0.0:8477');
      assert.equal(open.code, 2);
      assert.match(open.stderr, /--http-listen 0\.0\.0\.0:8477: 0\.0\.0\.0 is not a loopback address; listening there needs --http-token-file FILE/);
      const tokenFile = join(ws.root, 'token');
      await writeFile(tokenFile, 's3cr3t-token-value\n');
      await chmod(tokenFile, 0o644);
      const shared = await run('--http-listen', '0.0.0.0:8477', '--http-token-file', tokenFile);
      assert.equal(shared.code, 2);
      assert.ok(shared.stderr.includes(`--http-token-file ${tokenFile}: group or others may access it (mode 0644); chmod 600 it`), shared.stderr);
      assert.ok(!shared.stderr.includes('s3cr3t'));
      await writeFile(tokenFile, '\n');
      await chmod(tokenFile, 0o600);
      const empty = await run('--http-listen', '0.0.0.0:8477', '--http-token-file', tokenFile);
      assert.equal(empty.code, 2);
      assert.ok(empty.stderr.includes(`--http-token-file ${tokenFile}: empty`), empty.stderr);
      const missing = await run('--http-listen', '8477', '--http-token-file', join(ws.root, 'nope'));
      assert.equal(missing.code, 2);
      assert.ok(missing.stderr.includes(`--http-token-file ${join(ws.root, 'nope')}: ENOENT`), missing.stderr);
    } finally {
      await ws.dispose();
    }
  });

  test('on 0.0.0.0 with a token: every request needs it (401 otherwise); the token is in no output or log; --metrics-listen alone is the same server', async () => {
    const ws = await Workspace.create('exts-http-token-');
    const token = `tok-${makeSecret().value.replace(/[^0-9a-f]/g, '')}`;
    const tokenFile = join(ws.root, 'token');
    await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
    const port = await freePort();
    const base = `http://127.0.0.1:${port}/`;
    const goalFile = await ws.goalState({ handlers: [] });
    let daemon: RunningDaemon | null = null;
    try {
      daemon = await startDaemon(ws, goalFile, ['--metrics-listen', `0.0.0.0:${port}`, '--http-token-file', tokenFile, '--log-level', 'debug']);
      for (const path of ['/', '/api/ps', '/events', '/metrics', '/healthz', '/readyz']) {
        const none = await call(base, { path });
        assert.equal(none.status, 401, path);
        assert.equal(none.headers['www-authenticate'], 'Bearer realm="ext-supervisor"');
        const wrong = await call(base, { path, headers: { Authorization: `Bearer ${token.slice(0, -1)}${token.endsWith('0') ? '1' : '0'}` } });
        assert.equal(wrong.status, 401, path);
      }
      const auth = { Authorization: `Bearer ${token}` };
      await waitFor(async () => (await call(base, { path: '/readyz', headers: auth })).status === 200, 60_000, '/readyz 200');
      assert.equal((await call(base, { path: '/api/ps', headers: auth })).body, '[]\n');
      assert.equal((await call(base, { path: '/metrics', headers: auth })).status, 200);
      // Left open: stopping the daemon ends it.
      const stream = await openEvents(`${base}events`, auth);
      await stream.next((e) => e.event === 'snapshot');
      const result = await daemon.stop();
      daemon = null;
      await stream.closed;
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, new RegExp(`http on http://0\\.0\\.0\\.0:${port}/ \\(bearer token required\\)`));
      const logs = (await walkTree(ws.logDir)).map((f) => ({ where: f.rel, text: f.data.toString('latin1') }));
      const everywhere = [{ where: 'stdout', text: result.stdout }, { where: 'stderr', text: result.stderr }, ...logs];
      assert.deepEqual(everywhere.filter((c) => c.text.includes(token)).map((c) => c.where), [], 'the token is nowhere');
      assert.ok((await readFile(join(ws.logDir, 'supervisor.log'), 'utf8')).includes('http on'));
    } finally {
      await daemon?.stop();
      await ws.dispose();
    }
  });
});
