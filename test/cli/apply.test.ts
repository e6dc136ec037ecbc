import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Workspace, handlerEntry } from '../helpers/handlers.js';
import { killLeftovers, liveProcesses } from '../helpers/fleet.js';
import { runCli, startCli } from '../helpers/cli.js';
import { closePackagePool } from '../../src/supervisor/packages/pool.js';

after(() => closePackagePool());

describe('supervisor apply', () => {
  let ws: Workspace;
  before(async () => { ws = await Workspace.create('exts-cli-'); });
  after(async () => { await killLeftovers(ws); await ws.dispose(); });

  test('applies, prints the table and exits 0 when every handler reached its goal', async () => {
    const a = await ws.package({ name: 'Cli.A', version: '1.0.0' });
    const b = await ws.package({ name: 'Cli.B', version: '2.1.0' });
    const goal = await ws.goalState({ handlers: [handlerEntry('Cli.A', [a], { version: '1.0' }), handlerEntry('Cli.B', [b], { version: '2.1', dependsOn: ['Cli.A'] })] });
    const r = await runCli(['apply', '--goal-state', goal, '--lib-dir', ws.libDir, '--log-dir', ws.logDir]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    // Not a TTY: one line per handler as it settles (dependencies first), then the table with ps's columns.
    const lines = r.stdout.split('\n');
    const progress = lines.filter((l) => l.startsWith('['));
    assert.deepEqual(progress.map((l) => l.split(' ').slice(0, 2).join(' ')), ['[1/2] Cli.A', '[2/2] Cli.B'], r.stdout);
    assert.match(progress[0]!, /^\[1\/2\] Cli\.A 1\.0\.0 Enabled \w+ enable:succeeded$/);
    const header = lines.findIndex((l) => /^NAME\s+VERSION\s+STATE\s+STATUS\s+PIDS\s+CPU%\s+MEM\s+UPTIME\s+HEARTBEAT\s+RESTARTS\s+LAST-OP$/.test(l));
    assert.ok(header > lines.indexOf(progress[1]!), `the table follows the progress lines:\n${r.stdout}`);
    assert.match(r.stdout, /^Cli\.A\s+1\.0\.0\s+Enabled\s+Ready\s+.*\senable:succeeded$/m);
    assert.match(r.stdout, /^ {2}Cli\.A extension default \(sequence 1\): transitioning/m, 'extension status is shown');
    assert.match(r.stdout, /^Cli\.B\s+2\.1\.0\s+Enabled\s+Ready/m);
    assert.match(r.stdout, /2\/2 handlers reached their goal/);
  });

  test('--json prints the outcome per handler', async () => {
    const a = await ws.package({ name: 'Cli.J', version: '1.0' });
    const goal = await ws.goalState({ handlers: [handlerEntry('Cli.J', [a])] }, 'json.json');
    const r = await runCli(['apply', '--goal-state', goal, '--lib-dir', ws.libDir, '--log-dir', ws.logDir, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.ok, true);
    assert.equal(doc.handlers[0].name, 'Cli.J');
    assert.equal(doc.handlers[0].state, 'Enabled');
    assert.deepEqual(doc.handlers[0].operations.map((o: { name: string }) => o.name), ['fetch', 'install', 'enable']);
    assert.deepEqual(doc.handlers[0].extensions.map((e: { name: string }) => e.name), ['default']);
  });

  test('exits 1 when a handler fails, with its message in the table', async () => {
    const bad = await ws.package({ name: 'Cli.Bad', version: '1.0', behavior: { enable: 'echo boom >&2; rc=2' } });
    const goal = await ws.goalState({ handlers: [handlerEntry('Cli.Bad', [bad])] }, 'bad.json');
    const r = await runCli(['apply', '--goal-state', goal, '--lib-dir', ws.libDir, '--log-dir', ws.logDir]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^\[1\/1\] Cli\.Bad 1\.0 Installed Failed enable:failed$/m);
    assert.match(r.stdout, /^Cli\.Bad\s+1\.0\s+Installed\s+Failed\s+.*\senable:failed$/m);
    assert.match(r.stdout, /^ {2}Cli\.Bad: enable failed with exit code 2$/m);
  });

  test('exits 2 on an invalid goal state, listing every problem with path and value', async () => {
    const goal = await ws.goalState({ handlers: [{ name: '../evil', version: 'x.y', state: 'on', packages: [] }] }, 'invalid.json');
    const r = await runCli(['apply', '--goal-state', goal, '--lib-dir', ws.libDir]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /handlers\[0\]\.name/);
    assert.match(r.stderr, /"\.\.\/evil"/);
    assert.match(r.stderr, /handlers\[0\]\.version/);
    assert.match(r.stderr, /handlers\[0\]\.state/);
    assert.equal(r.stdout, '');
  });

  test('refuses (exit 2, naming the pid) while another supervisor holds the lib dir', async () => {
    const lib = join(ws.root, 'locked-lib');
    await mkdir(lib, { recursive: true });
    await writeFile(join(lib, 'supervisor.lock'), JSON.stringify({ pid: process.pid, command: 'run', startedAt: new Date().toISOString() }));
    const a = await ws.package({ name: 'Cli.L', version: '1.0' });
    const goal = await ws.goalState({ handlers: [handlerEntry('Cli.L', [a])] }, 'lock.json');
    const r = await runCli(['apply', '--goal-state', goal, '--lib-dir', lib]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(`pid ${process.pid}`));
  });

  test('a stale lock (its pid is gone) is taken over', async () => {
    const lib = join(ws.root, 'stale-lib');
    await mkdir(lib, { recursive: true });
    await writeFile(join(lib, 'supervisor.lock'), JSON.stringify({ pid: 2 ** 22 + 12345, command: 'run', startedAt: '' }));
    const a = await ws.package({ name: 'Cli.S', version: '1.0' });
    const goal = await ws.goalState({ handlers: [handlerEntry('Cli.S', [a])] }, 'stale.json');
    const r = await runCli(['apply', '--goal-state', goal, '--lib-dir', lib, '--log-dir', ws.logDir]);
    assert.equal(r.code, 0, r.stderr);
  });

  test('Ctrl-C ends running commands (SIGTERM then SIGKILL) and exits 1 with the state consistent', async () => {
    const hung = await ws.package({ name: 'Cli.Hung', version: '1.0', behavior: { enable: "trap '' TERM; echo waiting; sleep 300" } });
    const goal = await ws.goalState({ handlers: [handlerEntry('Cli.Hung', [hung])] }, 'hung.json');
    const { child, done } = startCli(['apply', '--goal-state', goal, '--lib-dir', ws.libDir, '--log-dir', ws.logDir, '--kill-grace', '0.3']);
    // wait until the enable command is running
    for (let i = 0; i < 200; i++) {
      if ((await ws.log()).some((l) => l.handler === 'Cli.Hung' && l.op === 'enable')) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    child.kill('SIGINT');
    const r = await done;
    assert.equal(r.code, 1, r.stderr + r.stdout);
    assert.match(r.stderr, /stopping/);
    assert.match(r.stdout, /^Cli\.Hung\s+1\.0\s+Installed\s+Failed\s+.*\senable:failed$/m);
    assert.match(r.stdout, /^ {2}Cli\.Hung: enable canceled/m);
    assert.equal((await liveProcesses(ws)).get('Cli.Hung'), undefined, 'nothing of the handler survives');
  });
});
