/**
 * One snapshot producer (docs/decisions.md, "One snapshot"): every row `ps --json` shows while a
 * daemon runs is the same after it stops, and a restarted daemon keeps the restart budget.
 * A real daemon through the CLI, real handler processes and files; every wait is on output.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Workspace, handlerEntry, opsOf } from '../helpers/handlers.js';
import { killLeftovers } from '../helpers/fleet.js';
import { runCli } from '../helpers/cli.js';
import { dirFlags, startDaemon, waitFor, type RunningDaemon } from '../helpers/daemon.js';
import { closePackagePool } from '../../src/supervisor/packages/pool.js';
import { exitForRows } from '../../src/cli/health.js';
import type { HandlerRow } from '../../src/protocol/ps-rows.js';

after(() => closePackagePool());

type Row = Record<string, any>;

const HEARTBEAT = '[{"version":"1.0","heartbeat":{"status":"ready","code":0,"formattedMessage":{"lang":"en-US","message":"beating"}}}]';
/** enable writes one heartbeat and never again: Unresponsive one timeout later (and after every restart). */
const BEAT_ONCE = `printf '%s' '${HEARTBEAT}' > "$here/heartbeat.log"`;
/** A restart budget of one restart, 0.1 s after the handler goes stale (the daemon reads it from its environment). */
const TINY_POLICY = JSON.stringify({ maxRestarts: 1, initialDelayMs: 100, maxDelayMs: 100 });

async function psJson(ws: Workspace): Promise<Row[]> {
  const r = await runCli(['ps', '--json', ...dirFlags(ws)]);
  const rows = JSON.parse(r.stdout) as Row[];
  assert.equal(r.code, exitForRows(rows as HandlerRow[]), `the exit code follows the rows' health: ${r.stderr}`);
  return rows;
}

async function statusJson(ws: Workspace, name: string): Promise<Row> {
  const r = await runCli(['status', name, '--json', ...dirFlags(ws)]);
  const detail = JSON.parse(r.stdout) as Row;
  assert.equal(r.code, exitForRows([detail['row'] as HandlerRow]), `the exit code follows the handler's health: ${r.stderr}`);
  return detail;
}

const byName = (rows: Row[]): Map<string, Row> => new Map(rows.map((r) => [r.name as string, r]));

/** Seconds a row counts (the age in an Unresponsive message), or null. */
const countedSeconds = (message: string): number | null => {
  const m = /^no heartbeat for (\d+) s /.exec(message);
  return m ? Number(m[1]) : null;
};

/**
 * The same row, with and without a daemon. Excluded, each for a reason:
 * - cpuPercent: the daemon's is the share over its last sampling interval, the offline one a
 *   process's average over its life (one sample has no interval); the same process, two measures.
 * - uptimeSeconds, heartbeatAgeSeconds and the N of "no heartbeat for N s": they count time, so the
 *   later capture may be ahead by the seconds between the two (and no more).
 * Everything else, pids and memory included (handler processes outlive a graceful stop), is equal.
 */
function assertSameRow(live: Row, offline: Row, elapsedSec: number): void {
  const name = live.name as string;
  const counted = (a: number | null, b: number | null, what: string): void => {
    assert.equal(a === null, b === null, `${name}: ${what} known in both or neither`);
    if (a === null || b === null) return;
    assert.ok(b >= a && b - a <= elapsedSec + 1, `${name}: ${what} ${a} s with the daemon, ${b} s after (${elapsedSec} s apart)`);
  };
  counted(live.uptimeSeconds, offline.uptimeSeconds, 'uptime');
  counted(live.heartbeatAgeSeconds, offline.heartbeatAgeSeconds, 'heartbeat age');
  counted(countedSeconds(live.message), countedSeconds(offline.message), 'the age in the message');
  const strip = (r: Row): Row => {
    const { cpuPercent: _c, uptimeSeconds: _u, heartbeatAgeSeconds: _h, ...rest } = r;
    return { ...rest, message: (r.message as string).replace(/^no heartbeat for \d+ s /, 'no heartbeat for N s ') };
  };
  assert.deepEqual(strip(offline), strip(live), `${name}: the same row without the daemon`);
}

describe('ps --json with a daemon and after it stops', () => {
  test('success, failed first install, failed dependency, Unresponsive and restart budget exhausted: row by row the same; the budget survives a restart', async () => {
    const ws = await Workspace.create('exts-ps-offline-');
    const previousPolicy = process.env['EXT_SUPERVISOR_RESTART_POLICY'];
    process.env['EXT_SUPERVISOR_RESTART_POLICY'] = TINY_POLICY;
    let daemon: RunningDaemon | undefined;
    try {
      const pkgs = {
        ok: await ws.package({ name: 'P.Ok', version: '1.0', behavior: {
          enable: 'if ! { [ -f "$here/svc.pid" ] && kill -0 "$(cat "$here/svc.pid")" 2>/dev/null; }; then sleep 300 >/dev/null 2>&1 & echo $! > "$here/svc.pid"; fi',
        } }),
        fail: await ws.package({ name: 'P.Fail', version: '1.0', behavior: { install: 'echo "preparing"; echo "disk full" >&2; rc=4' } }),
        dep: await ws.package({ name: 'P.Dep', version: '1.0' }),
        stale: await ws.package({ name: 'P.Stale', version: '1.0', manifest: { reportHeartbeat: true }, behavior: { enable: BEAT_ONCE } }),
        budget: await ws.package({ name: 'P.Budget', version: '1.0', manifest: { reportHeartbeat: true }, behavior: { enable: BEAT_ONCE } }),
      };
      const goal = await ws.goalState({ etag: 'one', handlers: [
        handlerEntry('P.Ok', [pkgs.ok]),
        handlerEntry('P.Fail', [pkgs.fail]),
        handlerEntry('P.Dep', [pkgs.dep], { dependsOn: ['P.Fail'] }),
        handlerEntry('P.Stale', [pkgs.stale], { heartbeatTimeout: 1, onUnresponsive: 'report' }),
        handlerEntry('P.Budget', [pkgs.budget], { heartbeatTimeout: 1, onUnresponsive: 'restart' }),
      ] });
      daemon = await startDaemon(ws, goal);
      const settled = (rows: Map<string, Row>): boolean =>
        rows.get('P.Ok')?.status === 'Ready' && rows.get('P.Ok')?.pids.length === 1
        && rows.get('P.Fail')?.status === 'Failed' && rows.get('P.Dep')?.status === 'Failed'
        && rows.get('P.Stale')?.status === 'Unresponsive'
        && rows.get('P.Budget')?.status === 'Failed' && rows.get('P.Budget')?.restarts === 1;
      await waitFor(async () => settled(byName(await psJson(ws))), 30_000, 'every handler at its end state');
      const live = await psJson(ws);
      const liveAt = Date.now();
      const liveStatus = { fail: await statusJson(ws, 'P.Fail'), budget: await statusJson(ws, 'P.Budget') };

      const l = byName(live);
      assert.equal(l.get('P.Fail')!.code, 1007);
      assert.match(l.get('P.Fail')!.message, /install failed with exit code 4[\s\S]*disk full/);
      assert.match(l.get('P.Dep')!.message, /dependency "P\.Fail"/);
      assert.equal(l.get('P.Stale')!.code, -1);
      assert.deepEqual([l.get('P.Budget')!.code, l.get('P.Budget')!.message], [-1, 'restart budget exhausted: 1 restart within 1 h; left alone']);
      assert.deepEqual(opsOf(await ws.log(), 'P.Budget'), ['install 1.0', 'enable 1.0', 'disable 1.0', 'enable 1.0'], 'one restart, then left alone');

      const stopped = await runCli(['stop', ...dirFlags(ws)]);
      assert.equal(stopped.code, 0, stopped.stderr);
      assert.equal((await daemon.done).code, 0);
      daemon = undefined;

      const offline = await psJson(ws);
      const elapsedSec = Math.ceil((Date.now() - liveAt) / 1000);
      assert.deepEqual(offline.map((r) => r.name), live.map((r) => r.name), 'the same handlers');
      for (const [i, row] of live.entries()) assertSameRow(row, offline[i]!, elapsedSec);
      const o = byName(offline);
      assert.deepEqual([o.get('P.Fail')!.state, o.get('P.Fail')!.status, o.get('P.Fail')!.code, o.get('P.Fail')!.lastOperation.name],
        ['NotInstalled', 'Failed', 1007, 'install'], 'a failed first install keeps its failure, not "Plugin not installed"');

      // status NAME: the operations (with their messages) and everything but the counted seconds are the same.
      for (const [name, before] of [['P.Fail', liveStatus.fail], ['P.Budget', liveStatus.budget]] as const) {
        const after = await statusJson(ws, name);
        assert.ok((before.operations as Row[]).length >= 2, `${name}: operations listed`);
        assert.deepEqual(after.operations, before.operations, `${name}: the same operations`);
        assertSameRow(before.row, after.row, Math.ceil((Date.now() - liveAt) / 1000));
        const { row: _a, ...restBefore } = before;
        const { row: _b, ...restAfter } = after;
        assert.deepEqual(restAfter, restBefore, `${name}: the same detail`);
      }
      assert.match((liveStatus.fail.operations as Row[]).at(-1)!.message, /disk full/, 'the stderr tail is kept');

      // A restarted daemon: the budget is not reset, so the stale P.Budget is left alone.
      const logFile = join(ws.logDir, 'supervisor.log');
      const logFrom = (await readFile(logFile, 'utf8')).length;
      const opsBefore = opsOf(await ws.log(), 'P.Budget').length;
      daemon = await startDaemon(ws, goal);
      const secondLog = async (): Promise<string> => (await readFile(logFile, 'utf8')).slice(logFrom);
      // The watchdog decides in the same step that finds the heartbeat stale, and logs both: once the
      // stale line is there, a restart it scheduled would be logged too.
      await waitFor(async () => (await secondLog()).includes('P.Budget: heartbeat stale'), 60_000, 'the second daemon to find P.Budget stale');
      const again = byName(await psJson(ws)).get('P.Budget')!;
      assert.deepEqual([again.status, again.code, again.message, again.restarts],
        ['Failed', -1, 'restart budget exhausted: 1 restart within 1 h; left alone', 1]);
      assert.equal((await runCli(['stop', ...dirFlags(ws)])).code, 0);
      await daemon.done;
      daemon = undefined;
      assert.doesNotMatch(await secondLog(), /P\.Budget: restart/, 'no restart scheduled by the second daemon');
      assert.equal(opsOf(await ws.log(), 'P.Budget').length, opsBefore, 'nothing ran again for P.Budget');
    } finally {
      if (previousPolicy === undefined) delete process.env['EXT_SUPERVISOR_RESTART_POLICY'];
      else process.env['EXT_SUPERVISOR_RESTART_POLICY'] = previousPolicy;
      await daemon?.stop();
      await killLeftovers(ws);
      await ws.dispose();
    }
  });
});
