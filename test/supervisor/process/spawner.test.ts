import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Spawner } from '../../../src/supervisor/process/spawner.js';
import { daemonStartEnv } from '../../../src/supervisor/process/daemon-env.js';
import { runCommand, type RunSpec } from '../../../src/supervisor/process/run-command.js';
import { readExitFile, withExitFile } from '../../../src/supervisor/process/exit-file.js';
import { readProcStat } from '../../../src/supervisor/process/proc.js';
import { killAllMarked, liveMarked, makeTempDir, removeDir, uniqueLibId, waitFor } from './kit.js';

let dir: string;
let spawner: Spawner;
const libIds: string[] = [];
before(async () => { dir = await makeTempDir('ext-sup-spawner-'); spawner = new Spawner({ pollMs: 20 }); });
afterEach(async () => { for (const id of libIds.splice(0)) await killAllMarked(id); });
after(async () => { await spawner.close(); await removeDir(dir); });

let seq = 0;
function spec(command: RunSpec['command'], extra: Partial<RunSpec> = {}): RunSpec {
  seq += 1;
  const libId = uniqueLibId();
  libIds.push(libId);
  return {
    libId, handler: 'Contoso.Spawned', operation: 'enable', command, cwd: dir, env: {}, spawner,
    stdoutFile: join(dir, `${seq}.stdout`), stderrFile: join(dir, `${seq}.stderr`), timeoutMs: 10_000, graceMs: 300, ...extra,
  };
}

describe('spawner: commands forked by the helper process', () => {
  test('exit codes, signals, output files and the environment: the same as a fork from here', async () => {
    const s = spec({ shell: 'echo "out $GREETING $EXT_SUPERVISOR_MARK"; echo err >&2; [ -n "$PATH" ] && exit 3' }, { env: { GREETING: 'hello' } });
    const running = await runCommand(s);
    assert.ok(running.pid && running.pid > 0);
    assert.notEqual(running.pid, spawner.pid, 'the command is not the spawner');
    const r = await running.done;
    assert.deepEqual([r.outcome, r.exitCode, r.signal], ['exited', 3, null]);
    assert.equal(r.stdoutTail, `out hello ${s.libId}:Contoso.Spawned\n`, 'the spec env and the mark on top of the inherited env');
    assert.equal(r.stderrTail, 'err\n');
    const killed = await (await runCommand(spec({ shell: 'kill -9 $$' }))).done;
    assert.deepEqual([killed.outcome, killed.exitCode, killed.signal], ['exited', null, 'SIGKILL']);
  });

  test('what cannot start says why: a missing program, a missing cwd, an output folder that is not there', async () => {
    const noFile = await (await runCommand(spec({ file: join(dir, 'no-such-program'), args: [] }))).done;
    assert.equal(noFile.outcome, 'spawnFailed');
    assert.match(noFile.error ?? '', /cannot start .*ENOENT/);
    const noCwd = await (await runCommand(spec({ shell: 'exit 0' }, { cwd: join(dir, 'missing-dir') }))).done;
    assert.equal(noCwd.outcome, 'spawnFailed');
    const noOut = await (await runCommand(spec({ shell: 'exit 0' }, { stdoutFile: join(dir, 'missing', 'x.stdout') }))).done;
    assert.equal(noOut.outcome, 'spawnFailed');
    assert.match(noOut.error ?? '', /missing\/x\.stdout/);
    const ok = await (await runCommand(spec({ shell: 'exit 0' }))).done;
    assert.equal(ok.exitCode, 0, 'the spawner still serves after failures');
  });

  test('a timeout ends the whole group through signals from here, and /proc shows nothing left', async () => {
    const s = spec({ shell: "trap '' TERM; setsid sleep 1000 & sleep 1000" }, { timeoutMs: 300 });
    const r = await (await runCommand(s)).done;
    assert.equal(r.outcome, 'timedOut');
    assert.deepEqual(await liveMarked(s.libId), []);
  });

  test('many at once: every pid distinct, every exit code matched to its command', async () => {
    const specs = Array.from({ length: 40 }, (_, i) => spec({ shell: `exit ${i % 7}` }));
    const results = await Promise.all(specs.map(async (s) => (await runCommand(s)).done));
    assert.deepEqual(results.map((r) => r.exitCode), specs.map((_, i) => i % 7));
    assert.equal(new Set(results.map((r) => r.pid)).size, 40);
    assert.equal(spawner.running, 0);
  });

  test('the spawner dies mid-command: the command lives on, its exit file gives the status, the next spawn starts a new spawner', async () => {
    const exitFile = join(dir, 'lost.exit');
    const gate = join(dir, 'lost.go');
    const s = spec({ shell: `while [ ! -f '${gate}' ]; do sleep 0.02; done; exit 5` }, { exitFile });
    const running = await runCommand(s);
    const before = spawner.starts;
    process.kill(spawner.pid!, 'SIGKILL');
    await waitFor('the spawner to be gone', () => (spawner.pid === null ? true : undefined));
    assert.ok(readProcStat(running.pid!), 'the command outlived its spawner');
    await writeFile(gate, '');
    const r = await running.done;
    assert.deepEqual([r.outcome, r.exitCode], ['exited', 5], 'read from the exit file');
    assert.equal(await readFile(`${exitFile}.pid`, 'utf8'), `${running.pid}\n`);
    const again = await (await runCommand(spec({ shell: 'exit 0' }))).done;
    assert.equal(again.exitCode, 0);
    assert.equal(spawner.starts, before + 1);
  });

  test('close ends the spawner; later spawns are refused as start failures', async () => {
    const own = new Spawner();
    assert.equal((await (await runCommand(spec({ shell: 'exit 0' }, { spawner: own }))).done).exitCode, 0);
    const pid = own.pid!;
    await own.close();
    assert.equal(own.pid, null);
    await waitFor('the spawner process to be reaped', () => (readProcStat(pid) === null ? true : undefined));
    const refused = await (await runCommand(spec({ shell: 'exit 0' }, { spawner: own }))).done;
    assert.equal(refused.outcome, 'spawnFailed');
    assert.match(refused.error ?? '', /spawner is closed/);
  });

  test('variables the daemon was started with for itself alone (the unit\'s malloc settings) never reach a handler', async () => {
    const start = daemonStartEnv();
    const saved = Object.fromEntries(Object.keys(start).map((k) => [k, process.env[k]]));
    Object.assign(process.env, start, { EXT_SUP_KEPT: 'kept' });
    const own = new Spawner(); // started now: inherits the daemon's environment as set above
    try {
      const line = 'echo "arena=${MALLOC_ARENA_MAX-unset} mmap=${MALLOC_MMAP_THRESHOLD_-unset} list=${EXT_SUPERVISOR_DAEMON_ONLY_ENV-unset} kept=$EXT_SUP_KEPT"';
      const expected = 'arena=unset mmap=unset list=unset kept=kept\n';
      const viaSpawner = await (await runCommand(spec({ shell: line }, { spawner: own }))).done;
      assert.equal(viaSpawner.stdoutTail, expected, 'forked by the spawner');
      const spawnerEnv = readFileSync(`/proc/${own.pid}/environ`, 'utf8').split('\0');
      assert.ok(spawnerEnv.includes('MALLOC_ARENA_MAX=2'), 'the spawner itself runs with them');
      const { spawner: _none, ...hereSpec } = spec({ shell: line });
      const here = await (await runCommand(hereSpec)).done;
      assert.equal(here.stdoutTail, expected, 'forked from this process');
    } finally {
      await own.close();
      for (const [k, v] of Object.entries(saved)) { if (v === undefined) delete process.env[k]; else process.env[k] = v; }
      delete process.env['EXT_SUP_KEPT'];
    }
  });
});

describe('exit files', () => {
  test('the shell records its pid and its exit status, for `exit N` inside the line too', async () => {
    const exitFile = join(dir, 'a.exit');
    const r = await (await runCommand(spec({ shell: 'true; exit 7' }, { exitFile }))).done;
    assert.equal(r.exitCode, 7);
    assert.equal(await readExitFile(exitFile), 7);
    assert.equal(await readExitFile(`${exitFile}.pid`), r.pid);
    assert.match(withExitFile('exit 0', "/tmp/it's here.exit"), /it'\\''s here/, 'quoted for the shell');
  });

  test('an empty, missing or garbled exit file is "not known", never exit 0', async () => {
    await writeFile(join(dir, 'empty.exit'), '');
    await writeFile(join(dir, 'blank.exit'), ' \n');
    await writeFile(join(dir, 'garbled.exit'), '1x\n');
    for (const f of ['empty.exit', 'blank.exit', 'garbled.exit', 'missing.exit']) assert.equal(await readExitFile(join(dir, f)), null, f);
  });
});
