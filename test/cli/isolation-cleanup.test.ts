// A daemon leaves no empty cgroup behind: a run's group goes when its command ends (or when the
// last process it left ends), an uninstalled handler's groups go, and a clean stop removes every
// empty group of its lib dir, in cgroup2 and in every v1 hierarchy. On the default subtree
// (<mount>/ext-supervisor), as `supervisor run` uses it.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Workspace, handlerEntry } from '../helpers/handlers.js';
import { killLeftovers } from '../helpers/fleet.js';
import { startDaemon, waitFor, type RunningDaemon } from '../helpers/daemon.js';
import { endLibGroups, groupsNamed, processesUnder, savedGroups } from '../helpers/cgroups.js';
import { libIdOf } from '../../src/storage/dirs.js';
import { closePackagePool } from '../../src/supervisor/packages/pool.js';
import { alive, psRow as row } from '../helpers/isolation.js';

after(() => closePackagePool());


test('after a daemon run and a clean stop no group of its lib dir remains', async () => {
  const ws = await Workspace.create('exts-cg-clean-');
  const libId = libIdOf(ws.libDir);
  let daemon: RunningDaemon | null = null;
  try {
    // Hello: commands that exit. Bg: an enable that leaves a process, which ends later by itself.
    // Gone: installed, then uninstalled.
    const hello = await ws.package({ name: 'Hello', version: '1.0' });
    const bg = await ws.package({ name: 'Bg', version: '1.0', behavior: {
      enable: '(while [ ! -e "$here/stop-bg" ]; do sleep 0.1; done) >/dev/null 2>&1 &' } });
    const gone = await ws.package({ name: 'Gone', version: '1.0' });
    const doc = (goneState: string) => ({ etag: goneState, handlers: [handlerEntry('Hello', [hello]), handlerEntry('Bg', [bg]),
      handlerEntry('Gone', [gone], { state: goneState })] });
    const goalFile = await ws.goalState(doc('enabled'));
    // Bg's processes, read from its groups in cgroup2 (recorded by the daemon in cgroups.json).
    const bgMembers = (): number[] => {
      if (!existsSync(join(ws.libDir, 'cgroups.json'))) return [];
      const dir = join(savedGroups(ws.libDir).v2!, 'h-Bg');
      const runs = existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith('r-')) : [];
      return runs.flatMap((r) => { try { return readFileSync(join(dir, r, 'cgroup.procs'), 'latin1').split('\n').filter(Boolean).map(Number); } catch { return []; } });
    };
    // No sampling after the first: the sampler's pruning of empty run groups must not hide what the stop does.
    daemon = await startDaemon(ws, goalFile, ['--sample-interval', '3600']);
    await waitFor(() => bgMembers().length > 0, 60_000, 'the process Bg leaves');
    await waitFor(async () => (await row(ws, 'Hello'))?.lastOperation?.result === 'succeeded'
      && (await row(ws, 'Gone'))?.lastOperation?.result === 'succeeded', 60_000, 'Hello and Gone enabled');
    assert.ok(groupsNamed(libId).length > 0, 'the daemon made its lib dir\'s groups');

    await writeFile(goalFile, JSON.stringify(doc('uninstall')));
    await waitFor(async () => { const g = await row(ws, 'Gone'); return g === undefined || g.state === 'NotInstalled'; }, 60_000, 'Gone uninstalled');
    await waitFor(() => !existsSync(join(ws.libDir, 'Gone-1.0')), 60_000, 'Gone\'s handler dir removed');
    assert.deepEqual(groupsNamed('h-Gone').filter((d) => d.includes(`/${libId}/`)), [], 'the uninstalled handler\'s groups are gone');

    const bgPids = bgMembers();
    await writeFile(join(ws.libDir, 'Bg-1.0', 'stop-bg'), '');
    await waitFor(() => bgMembers().length === 0, 60_000, 'Bg\'s process to end by itself');
    assert.deepEqual(bgPids.filter(alive), []);
    assert.ok(groupsNamed('h-Bg').some((d) => d.includes(`/${libId}/`)), 'Bg\'s emptied run group is still there before the stop');
    const stopped = await daemon.stop();
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.deepEqual(groupsNamed(libId), [], 'no group of the lib dir after the stop');
    assert.deepEqual(processesUnder(`/ext-supervisor/${libId}`), [], 'and no process in one (/proc)');
  } finally {
    await daemon?.stop();
    await killLeftovers(ws);
    await endLibGroups(libId);
    await ws.dispose();
  }
});
