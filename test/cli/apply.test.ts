import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Workspace, handlerEntry } from '../helpers/handlers.js';
import { killLeftovers, liveProcesses } from '../helpers/fleet.js';
import { CLI, runCli, startCli, type CliResult } from '../helpers/cli.js';
import { waitFor } from '../helpers/daemon.js';
import { closePackagePool } from '../../src/supervisor/packages/pool.js';

after(() => closePackagePool());

const shellQuote = (word: string): string => `'${word.replaceAll("'", "'\\''")}'`;

/**
 * Runs the real CLI on a pseudo-terminal: util-linux `script` gives it a pty for stdin and stdout
 * (-e: its exit code; -f: flushed as written). The terminal's CR LF line ends are turned back into LF.
 */
function inTerminal(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const command = [process.execPath, CLI, ...args].map(shellQuote).join(' ');
  const child = spawn('script', ['-qfec', command, '/dev/null'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout: stdout.replaceAll('\r\n', '\n'), stderr })));
}

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

  test('on a terminal: one live line with the counts, rewritten in place, then the table with the ps columns, coloured unless NO_COLOR', async () => {
    const a = await ws.package({ name: 'Tty.A', version: '1.0.0' });
    const b = await ws.package({ name: 'Tty.B', version: '1.0.0', behavior: { enable: 'echo boom >&2; rc=2' } });
    const goal = await ws.goalState({ handlers: [handlerEntry('Tty.A', [a], { version: '1.0' }), handlerEntry('Tty.B', [b], { version: '1.0', dependsOn: ['Tty.A'] })] }, 'tty.json');
    for (const noColor of [false, true]) {
      const dirs = ['--lib-dir', join(ws.root, `tty-lib-${noColor}`), '--log-dir', join(ws.root, `tty-log-${noColor}`)];
      const r = await inTerminal(['apply', '--goal-state', goal, ...dirs], noColor ? { NO_COLOR: '1' } : {});
      assert.equal(r.code, 1, `Tty.B failed: exit 1\n${r.stdout}${r.stderr}`);
      // The live line: each state of it starts with CR + erase-line, none ends with a newline; the last one is erased for the table.
      const live = [...r.stdout.matchAll(/\r\u001b\[Kapplying: ([^\r\n]*)/g)].map((m) => m[1]);
      assert.equal(live.length, 2, JSON.stringify(r.stdout));
      assert.match(live[0]!, /^1\/2 settled \(last: Tty\.A \w+\)$/, 'Tty.A settles first: Tty.B depends on it');
      assert.equal(live[1], '2/2 settled, 1 failed (last: Tty.B Failed)');
      assert.doesNotMatch(r.stdout, /^\[\d\/2\]/m, 'no per-handler lines on a terminal');
      const table = r.stdout.slice(r.stdout.lastIndexOf('\r\u001b[K') + 4);
      const lines = table.split('\n');
      assert.match(lines[0]!, /^NAME\s+VERSION\s+STATE\s+STATUS\s+PIDS\s+CPU%\s+MEM\s+UPTIME\s+HEARTBEAT\s+RESTARTS\s+LAST-OP$/, JSON.stringify(table));
      // The STATUS cell is padded, then coloured: green Ready, red Failed (regex sources).
      const ready = noColor ? 'Ready' : '\\u001b\\[32mReady *\\u001b\\[0m';
      const failed = noColor ? 'Failed' : '\\u001b\\[31mFailed *\\u001b\\[0m';
      assert.match(lines[1]!, new RegExp(`^Tty\\.A\\s+1\\.0\\.0\\s+Enabled\\s+${ready}\\s+.*\\senable:succeeded$`), JSON.stringify(lines[1]));
      assert.match(lines[2]!, new RegExp(`^Tty\\.B\\s+1\\.0\\.0\\s+Installed\\s+${failed}\\s+.*\\senable:failed$`), JSON.stringify(lines[2]));
      if (noColor) assert.doesNotMatch(r.stdout, /\u001b\[\d+m/, 'NO_COLOR: no colour at all');
      assert.match(table, /^ {2}Tty\.B: enable failed with exit code 2$/m);
      assert.match(table, /^1\/2 handlers reached their goal in /m);
    }
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
    // Until the enable command is running (a failure bound only: 5 s was too short for a loaded machine, the SIGINT came during install).
    await waitFor(async () => (await ws.log()).some((l) => l.handler === 'Cli.Hung' && l.op === 'enable'), 60_000, 'the enable command to run');
    child.kill('SIGINT');
    const r = await done;
    assert.equal(r.code, 1, r.stderr + r.stdout);
    assert.match(r.stderr, /stopping/);
    assert.match(r.stdout, /^Cli\.Hung\s+1\.0\s+Installed\s+Failed\s+.*\senable:failed$/m);
    assert.match(r.stdout, /^ {2}Cli\.Hung: enable canceled/m);
    assert.equal((await liveProcesses(ws)).get('Cli.Hung'), undefined, 'nothing of the handler survives');
  });
});
