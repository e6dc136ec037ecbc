// The systemd layout (docs/decisions.md, "Isolation"), for real on this machine's cgroup2 tree:
// a fresh group named like a unit's (`<root>/exts-test.service`) stands in for the group systemd
// gives a Delegate=yes service, and INVOCATION_ID says "started by systemd", as systemd sets it.
// A wrapper shell enters the group, then execs the daemon: what systemd does before ExecStart.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Workspace, handlerEntry } from '../helpers/handlers.js';
import { killLeftovers } from '../helpers/fleet.js';
import { CLI, type CliResult } from '../helpers/cli.js';
import { dirFlags, waitFor, whenListening } from '../helpers/daemon.js';
import { groupsNamed, processesUnder, testCgroupRoot, v2GroupOf } from '../helpers/cgroups.js';
import { findMounts } from '../../src/supervisor/process/cgroup/detect.js';
import { libIdOf } from '../../src/storage/dirs.js';
import { closePackagePool } from '../../src/supervisor/packages/pool.js';
import { alive, psRow as row } from '../helpers/isolation.js';

after(() => closePackagePool());

const procsOf = (dir: string): number[] => readFileSync(join(dir, 'cgroup.procs'), 'latin1').split('\n').filter(Boolean).map(Number);

interface Unit { readonly pid: number; readonly done: Promise<CliResult>; stop(): Promise<CliResult> }

/** Starts `supervisor run` the way systemd starts the unit: in `group` (cgroup.procs), with INVOCATION_ID set. */
async function startAsUnit(ws: Workspace, goal: string, group: string): Promise<Unit> {
  const child = spawn('/bin/sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', group, process.execPath, CLI,
    'run', '--goal-state', goal, ...dirFlags(ws), '--kill-grace', '0.3', '--sample-interval', '0.5'],
  { env: { ...process.env, INVOCATION_ID: randomBytes(16).toString('hex') }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const done = new Promise<CliResult>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  const stop = await whenListening(ws, child, done);
  return { pid: child.pid!, done, stop };
}

test('under systemd the daemon lives in <unit>/supervisor, handlers beside it; a second start adopts them; nothing is left', async () => {
  const ws = await Workspace.create('exts-cg-systemd-');
  const cg = testCgroupRoot();
  const mount = findMounts().v2!;
  const unitRel = `${cg.rel}/exts-test.service`;
  const unitDir = join(mount, unitRel);
  const libId = libIdOf(ws.libDir);
  const units: Unit[] = [];
  try {
    mkdirSync(unitDir, { recursive: true });
    const pkg = await ws.package({ name: 'Svc', version: '1.0', behavior: { enable: 'env -i setsid sleep 1000 >/dev/null 2>&1 &' } });
    const goalFile = await ws.goalState({ etag: 'one', handlers: [handlerEntry('Svc', [pkg])] });

    // First start: systemd (before 254, or without DelegateSubgroup=) puts the main process in the unit's own group.
    const first = await startAsUnit(ws, goalFile, unitDir);
    units.push(first);
    await waitFor(async () => (await row(ws, 'Svc'))?.pids.length === 1, 60_000, 'Svc\'s escaped sleep');
    const [svcPid] = (await row(ws, 'Svc'))!.pids as number[];
    assert.equal(v2GroupOf(first.pid), `${unitRel}/supervisor`, 'the daemon moved itself into the leaf');
    // The unit's own group holds no process (a cgroup2 group with controllers enabled may hold none): the
    // daemon and the spawner it forked are in the leaf, the handler's process in its run group beside it.
    assert.deepEqual(procsOf(unitDir), []);
    assert.ok(procsOf(join(unitDir, 'supervisor')).includes(first.pid));
    assert.match(v2GroupOf(svcPid!) ?? '', new RegExp(`^${unitRel}/${libId}/h-Svc/r-[0-9a-f]+$`));
    assert.deepEqual(processesUnder(unitRel).filter((p) => v2GroupOf(p) === unitRel), [], 'nothing in the unit\'s own group (/proc)');
    const log1 = await readFile(join(ws.logDir, 'supervisor.log'), 'utf8');
    assert.match(log1, new RegExp(`the daemon runs in ${unitDir}/supervisor, handlers beside it`));
    const saved = JSON.parse(await readFile(join(ws.libDir, 'cgroups.json'), 'utf8')) as { v2: string };
    assert.equal(saved.v2, join(unitDir, libId));

    // A restart (KillMode=process: the handler's process stays). systemd 254+ with DelegateSubgroup=supervisor
    // starts the new daemon in the leaf itself; the daemon must see its unit above it.
    assert.equal((await first.stop()).code, 0);
    assert.ok(alive(svcPid!), 'the handler\'s process outlives the daemon');
    assert.deepEqual(procsOf(unitDir), [], 'no process left in the unit\'s own group after the stop');
    const second = await startAsUnit(ws, goalFile, join(unitDir, 'supervisor'));
    units.push(second);
    assert.equal(v2GroupOf(second.pid), `${unitRel}/supervisor`);
    await waitFor(async () => JSON.stringify((await row(ws, 'Svc'))?.pids) === JSON.stringify([svcPid]), 60_000, 'the same process adopted');
    const log2 = (await readFile(join(ws.logDir, 'supervisor.log'), 'utf8')).slice(log1.length);
    assert.match(log2, /adopted the groups of 1 handler\(s\); the daemon runs in/);
    assert.doesNotMatch(log2, /left-?over process/i);
    assert.deepEqual(procsOf(unitDir), []);

    await writeFile(goalFile, JSON.stringify({ etag: 'two', handlers: [handlerEntry('Svc', [pkg], { state: 'uninstall' })] }));
    await waitFor(() => !alive(svcPid!), 60_000, 'the escaped sleep ended by uninstall');
    await waitFor(() => !existsSync(join(ws.libDir, 'Svc-1.0')), 60_000, 'Svc uninstalled');
    assert.equal((await second.stop()).code, 0);
    // The stop removed the lib dir's groups; what is left is the leaf (systemd removes the unit's group).
    assert.deepEqual(groupsNamed(libId, cg.rel), []);
    assert.deepEqual(processesUnder(unitRel), [], 'no process in the unit\'s subtree (/proc)');
  } finally {
    for (const u of units) await u.stop();
    await killLeftovers(ws);
    await cg.cleanup();
    await ws.dispose();
  }
  assert.deepEqual(groupsNamed('exts-test.service', cg.rel), [], 'the test\'s groups are gone');
});
