import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { access, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Workspace, handlerEntry, opsOf } from '../../helpers/handlers.js';
import { killLeftovers } from '../../helpers/fleet.js';
import { waitFor } from '../../helpers/daemon.js';
import { Runtime } from '../../../src/supervisor/daemon/runtime.js';
import { ManualClock, type Clock } from '../../../src/core/clock.js';
import { parseGoalState } from '../../../src/supervisor/goal/goal-state.js';
import { restartPolicy } from '../../../src/supervisor/monitor/restart-policy.js';
import { closePackagePool } from '../../../src/supervisor/packages/pool.js';
import type { HandlerRow } from '../../../src/supervisor/monitor/types.js';

after(() => closePackagePool());

const beat = (message: string): string => `[{"version":"1.0","heartbeat":{"status":"ready","code":0,"formattedMessage":{"lang":"en-US","message":"${message}"}}}]`;
const HEARTBEAT = beat('beating');
const write = (body: string): string => `printf '%s' '${body}' > "$here/heartbeat.log.tmp" && mv "$here/heartbeat.log.tmp" "$here/heartbeat.log"`;

/** A handler whose enable starts a writer that beats every 0.2 s until the stop file appears, then beats 'last beat' and exits. */
const beatingEnable = `
  stop="$here/stop-beating"; rm -f "$stop"
  ( while [ ! -f "$stop" ]; do ${write(HEARTBEAT)}; sleep 0.2; done; ${write(beat('last beat'))} ) >/dev/null 2>&1 &
  printf '[{"status":{"status":"success","code":"0","formattedMessage":{"lang":"en-US","message":"serving"}}}]' > "$here/status/$ConfigSequenceNumber.status"
`;

async function withRuntime(fn: (ws: Workspace, rt: Runtime) => Promise<void>, policy?: Parameters<typeof restartPolicy>[0], clock?: Clock): Promise<void> {
  const ws = await Workspace.create('exts-rt-');
  const rt = new Runtime({ dirs: ws.dirs, graceMs: 300, sampleIntervalMs: 300, ...(policy ? { restartPolicy: restartPolicy(policy) } : {}), ...(clock ? { clock } : {}) });
  try { await fn(ws, rt); } finally { await rt.stop(); await killLeftovers(ws); await ws.dispose(); }
}

const row = async (rt: Runtime, name: string): Promise<HandlerRow> => (await rt.rows()).find((r) => r.name === name)!;

/**
 * A manual clock an hour behind the files' real mtimes: a heartbeat write counts from when the
 * watchdog first saw it, on this clock, which moves only when the test says.
 */
const behindTheFiles = (): ManualClock => new ManualClock(Date.now() - 3_600_000);

describe('runtime: heartbeat and status reach ps', () => {
  const clock = behindTheFiles();
  test('fresh → Ready; stops → Unresponsive (-1) within timeout + 1 s (injected clock); a write by rename → Ready again', () => withRuntime(async (ws, rt) => {
    const pkg = await ws.package({ name: 'Beat', version: '1.0', manifest: { reportHeartbeat: true }, behavior: { enable: beatingEnable } });
    const s = await rt.apply(parseGoalState(JSON.stringify({ handlers: [handlerEntry('Beat', [pkg], { heartbeatTimeout: 1 })] }), 'goal'));
    assert.ok(s.ok, s.results[0]?.status.message);
    await waitFor(async () => (await row(rt, 'Beat')).heartbeat?.status === 'ready', 10_000, 'the first heartbeat');
    const r = await row(rt, 'Beat');
    assert.equal(r.status, 'Ready');
    assert.ok(r.heartbeatAgeSeconds !== null && r.heartbeatAgeSeconds <= 1);
    await waitFor(async () => (await row(rt, 'Beat')).extensions[0]?.message === 'serving', 10_000, 'the status file');
    assert.equal((await row(rt, 'Beat')).extensions[0]?.code, 0, 'code "0" reads as 0');

    const dir = join(ws.libDir, 'Beat-1.0');
    await writeFile(join(dir, 'stop-beating'), '');
    // The writer's last beat has its own message: once ps shows it, no write is left to come.
    await waitFor(async () => (await row(rt, 'Beat')).heartbeat?.message === 'last beat', 10_000, 'the last beat');
    await clock.advanceAsync(1000);
    assert.equal((await row(rt, 'Beat')).status, 'Ready', 'not Unresponsive at the timeout itself');
    await clock.advanceAsync(1000);
    const stale = await row(rt, 'Beat');
    assert.equal(stale.status, 'Unresponsive', 'Unresponsive within timeout + 1 s of the last beat');
    assert.equal(stale.code, -1);
    assert.match(stale.message, /no heartbeat/);

    await writeFile(join(dir, 'hb.tmp'), HEARTBEAT);
    await rename(join(dir, 'hb.tmp'), join(dir, 'heartbeat.log'));
    await waitFor(async () => (await row(rt, 'Beat')).status === 'Ready', 10_000, 'Ready after a write by rename');
  }, undefined, clock));

  test('an uninstall whose disable outlasts the heartbeat timeout: no stale heartbeat, no warning, no restart', async () => {
    const ws = await Workspace.create('exts-rt-');
    const dir = join(ws.libDir, 'Quits-1.0');
    const own = behindTheFiles();
    const stale: string[] = [];
    const rt = new Runtime({ dirs: ws.dirs, graceMs: 300, sampleIntervalMs: 300, clock: own,
      onEvent: (e) => { if (e.type === 'heartbeat' && e.state === 'stale') stale.push(e.handler); } });
    try {
      // disable stops the writer, then waits for the test's word: the heartbeat stops well before the uninstall ends.
      const pkg = await ws.package({ name: 'Quits', version: '1.0', manifest: { reportHeartbeat: true }, behavior: {
        enable: beatingEnable,
        disable: 'touch "$here/stop-beating"; touch "$here/disabling"; while [ ! -f "$here/release" ]; do sleep 0.05; done' } });
      const entry = (state?: string) => handlerEntry('Quits', [pkg], { heartbeatTimeout: 1, onUnresponsive: 'restart', ...(state ? { state } : {}) });
      assert.ok((await rt.apply(parseGoalState(JSON.stringify({ handlers: [entry()] }), 'goal'))).ok);
      await waitFor(async () => (await row(rt, 'Quits')).heartbeat?.status === 'ready', 10_000, 'the first heartbeat');
      const uninstall = rt.apply(parseGoalState(JSON.stringify({ handlers: [entry('uninstall')] }), 'goal'));
      await waitFor(() => access(join(dir, 'disabling')).then(() => true, () => false), 10_000, 'the disable to run');
      await own.advanceAsync(5000); // five timeouts without a beat, while the disable runs
      await rt.settle();
      assert.notEqual((await row(rt, 'Quits')).status, 'Unresponsive');
      await writeFile(join(dir, 'release'), '');
      assert.ok((await uninstall).ok);
      await rt.settle();
      assert.deepEqual(stale, [], 'no stale heartbeat reported for a handler being uninstalled');
      assert.deepEqual(opsOf(await ws.log(), 'Quits'), ['install 1.0', 'enable 1.0', 'disable 1.0', 'uninstall 1.0'], 'no restart');
    } finally {
      await writeFile(join(dir, 'release'), '').catch(() => {});
      await rt.stop();
      await killLeftovers(ws);
      await ws.dispose();
    }
  });

  test('onUnresponsive restart runs disable + enable, counts restarts, and gives up past the budget', () => withRuntime(async (ws, rt) => {
    // enable writes one heartbeat and never again: every restart goes stale once more
    const pkg = await ws.package({ name: 'Flaky', version: '1.0', manifest: { reportHeartbeat: true }, behavior: {
      enable: `printf '%s' '${HEARTBEAT}' > "$here/heartbeat.log"` } });
    const s = await rt.apply(parseGoalState(JSON.stringify({ handlers: [handlerEntry('Flaky', [pkg], { heartbeatTimeout: 1, onUnresponsive: 'restart' })] }), 'goal'));
    assert.ok(s.ok);
    await waitFor(async () => (await row(rt, 'Flaky')).restarts >= 2 && (await row(rt, 'Flaky')).status === 'Failed', 15_000, 'two restarts then give-up');
    const ops = opsOf(await ws.log(), 'Flaky');
    assert.deepEqual(ops, ['install 1.0', 'enable 1.0', 'disable 1.0', 'enable 1.0', 'disable 1.0', 'enable 1.0']);
    const r = await row(rt, 'Flaky');
    assert.equal(r.restarts, 2);
    assert.match(r.message, /restart budget exhausted/);
  }, { maxRestarts: 2, initialDelayMs: 100, maxDelayMs: 200, windowMs: 3_600_000 }));

  test('a give-up holds when a later goal state leaves the handler as it is (issue 18)', () => withRuntime(async (ws, rt) => {
    const pkg = await ws.package({ name: 'Flaky', version: '1.0', manifest: { reportHeartbeat: true }, behavior: {
      enable: `printf '%s' '${HEARTBEAT}' > "$here/heartbeat.log"` } });
    const other = await ws.package({ name: 'Other', version: '1.0' });
    const flaky = handlerEntry('Flaky', [pkg], { heartbeatTimeout: 1, onUnresponsive: 'restart' });
    assert.ok((await rt.apply(parseGoalState(JSON.stringify({ handlers: [flaky] }), 'goal'))).ok);
    await waitFor(async () => (await row(rt, 'Flaky')).status === 'Failed', 15_000, 'give-up');
    const later = await rt.apply(parseGoalState(JSON.stringify({ handlers: [flaky, handlerEntry('Other', [other])] }), 'goal'));
    assert.ok(later.ok);
    await rt.settle();
    const r = await row(rt, 'Flaky');
    assert.equal(r.status, 'Failed', 'still Failed after a later goal state');
    assert.match(r.message, /restart budget exhausted/);
    assert.deepEqual(opsOf(await ws.log(), 'Flaky'), ['install 1.0', 'enable 1.0', 'disable 1.0', 'enable 1.0'], 'no fresh budget');
  }, { maxRestarts: 1, initialDelayMs: 100, maxDelayMs: 200, windowMs: 3_600_000 }));
});
