/** `supervisor restart` and `supervisor retry` against a real daemon: what runs, in which order, and what is refused. */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Workspace, handlerEntry } from '../helpers/handlers.js';
import { killLeftovers } from '../helpers/fleet.js';
import { runCli } from '../helpers/cli.js';
import { dirFlags, startDaemon, waitFor, type RunningDaemon } from '../helpers/daemon.js';
import { closePackagePool } from '../../src/supervisor/packages/pool.js';

after(() => closePackagePool());

interface Row { name: string; state: string; status: string; message: string; restarts: number }
async function rowOf(ws: Workspace, name: string): Promise<Row | undefined> {
  const rows = JSON.parse((await runCli(['ps', '--json', ...dirFlags(ws)])).stdout || '[]') as Row[];
  return rows.find((r) => r.name === name);
}

/** "handler op" for every command started, in order. */
async function ops(ws: Workspace): Promise<string[]> {
  return (await ws.log()).filter((l) => l.phase === 'start').map((l) => `${l.handler} ${l.op}`);
}

describe('restart and retry', () => {
  test('restart disables the dependent first and enables it last; unknown names are refused with exit 2, no daemon with 3', async () => {
    const ws = await Workspace.create('exts-ctl-');
    const a = await ws.package({ name: 'C.Base', version: '1.0' });
    const b = await ws.package({ name: 'C.Dep', version: '1.0' });
    const c = await ws.package({ name: 'C.Other', version: '1.0' });
    let daemon: RunningDaemon | undefined;
    try {
      const goal = await ws.goalState({ etag: 'g1', handlers: [handlerEntry('C.Base', [a]), handlerEntry('C.Dep', [b], { dependsOn: ['C.Base'] }),
        handlerEntry('C.Other', [c])] });
      daemon = await startDaemon(ws, goal);
      await waitFor(async () => (await rowOf(ws, 'C.Dep'))?.state === 'Enabled' && (await rowOf(ws, 'C.Other'))?.state === 'Enabled', 60_000, 'all enabled');
      const before = (await ops(ws)).length;

      const r = await runCli(['restart', 'C.Base', ...dirFlags(ws)]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual((await ops(ws)).slice(before), ['C.Dep disable', 'C.Base disable', 'C.Base enable', 'C.Dep enable']);
      assert.match(r.stdout, /^C\.Dep: disable: disabled\nC\.Base: disable: disabled\nC\.Base: enable: .*\nC\.Dep: enable: .*\n$/);
      assert.equal((await rowOf(ws, 'C.Base'))?.state, 'Enabled');
      assert.equal((await rowOf(ws, 'C.Dep'))?.state, 'Enabled');

      const unknown = await runCli(['restart', 'C.Other', 'C.Nope', ...dirFlags(ws)]);
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /no handler named "C\.Nope"; nothing done/);
      const retryUnknown = await runCli(['retry', 'C.Nope', ...dirFlags(ws)]);
      assert.equal(retryUnknown.code, 2);
      assert.equal((await ops(ws)).length, before + 4, 'a refused command runs nothing');

      const stopped = await daemon.stop();
      assert.equal(stopped.code, 0, stopped.stderr);
      for (const verb of ['restart', 'retry']) {
        const none = await runCli([verb, 'C.Base', ...dirFlags(ws)]);
        assert.equal(none.code, 3, `${verb} without a daemon: 3, as every command that needs one`);
        assert.match(none.stderr, new RegExp(`supervisor ${verb}: no daemon is running on .*nothing done`));
      }
    } finally {
      await daemon?.stop();
      await killLeftovers(ws);
      await ws.dispose();
    }
  });

  test('retry re-attempts a handler whose enable failed: once the cause is gone it is Ready', async () => {
    const ws = await Workspace.create('exts-ctl-retry-');
    const flag = join(ws.root, 'may-enable');
    const a = await ws.package({ name: 'C.Flaky', version: '1.0', behavior: { enable: `[ -f '${flag}' ] || rc=1` } });
    let daemon: RunningDaemon | undefined;
    try {
      daemon = await startDaemon(ws, await ws.goalState({ etag: 'g1', handlers: [handlerEntry('C.Flaky', [a])] }));
      await waitFor(async () => (await rowOf(ws, 'C.Flaky'))?.status === 'Failed', 60_000, 'enable failed');
      const failedRetry = await runCli(['retry', 'C.Flaky', ...dirFlags(ws)]);
      assert.equal(failedRetry.code, 1, 'still failing: the operation failed');
      assert.match(failedRetry.stdout, /C\.Flaky: restart budget reset\nC\.Flaky: goal applied again: /);

      await writeFile(flag, '');
      const r = await runCli(['retry', 'C.Flaky', ...dirFlags(ws)]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /C\.Flaky: restart budget reset\n/);
      const row = await rowOf(ws, 'C.Flaky');
      assert.equal(row?.state, 'Enabled');
      assert.equal(row?.status, 'Ready');
      assert.deepEqual((await ops(ws)).filter((o) => o.endsWith('enable')), ['C.Flaky enable', 'C.Flaky enable', 'C.Flaky enable']);
    } finally {
      await daemon?.stop();
      await killLeftovers(ws);
      await ws.dispose();
    }
  });

  test('retry in dependency order: a dependent its failure blocked is attempted after it; enabled dependents are disabled before it', async () => {
    const ws = await Workspace.create('exts-ctl-retry-dep-');
    const flag = join(ws.root, 'may-enable');
    const base = await ws.package({ name: 'C.RBase', version: '1.0', behavior: { enable: `[ -f '${flag}' ] || rc=1` } });
    const dep = await ws.package({ name: 'C.RDep', version: '1.0' });
    const leaf = await ws.package({ name: 'C.RLeaf', version: '1.0' });
    let daemon: RunningDaemon | undefined;
    try {
      daemon = await startDaemon(ws, await ws.goalState({ etag: 'g1', handlers: [handlerEntry('C.RBase', [base]),
        handlerEntry('C.RDep', [dep], { dependsOn: ['C.RBase'] }), handlerEntry('C.RLeaf', [leaf], { dependsOn: ['C.RDep'] })] }));
      await waitFor(async () => (await rowOf(ws, 'C.RLeaf'))?.status === 'Failed', 60_000, 'the dependents blocked by the failed enable');
      assert.match((await rowOf(ws, 'C.RDep'))?.message ?? '', /not attempted: dependency "C\.RBase"/);

      await writeFile(flag, '');
      const before = (await ops(ws)).length;
      const r = await runCli(['retry', 'C.RBase', ...dirFlags(ws)]);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.deepEqual((await ops(ws)).slice(before), ['C.RBase enable', 'C.RDep install', 'C.RDep enable', 'C.RLeaf install', 'C.RLeaf enable'],
        'nothing was Enabled, so nothing is disabled; the blocked dependents follow their dependency');
      assert.match(r.stdout, /^C\.RBase: restart budget reset\nC\.RBase: goal applied again: .*\nC\.RDep: goal applied again: .*\nC\.RLeaf: goal applied again: .*\n$/);
      for (const name of ['C.RBase', 'C.RDep', 'C.RLeaf']) assert.equal((await rowOf(ws, name))?.status, 'Ready', name);

      const again = (await ops(ws)).length;
      const all = await runCli(['retry', 'C.RBase', ...dirFlags(ws)]);
      assert.equal(all.code, 0, all.stderr);
      assert.deepEqual((await ops(ws)).slice(again), ['C.RLeaf disable', 'C.RDep disable', 'C.RBase disable', 'C.RBase enable', 'C.RDep enable', 'C.RLeaf enable'],
        'all Enabled: the order of a restart');
    } finally {
      await daemon?.stop();
      await killLeftovers(ws);
      await ws.dispose();
    }
  });
});
