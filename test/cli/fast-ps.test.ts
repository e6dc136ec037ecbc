/**
 * bin/supervisor.cjs: `supervisor ps --json` answered by the CommonJS launcher alone while a daemon
 * runs. Against a real control server on a unix socket: the same bytes as the full CLI, the same
 * lib dir as resolveDirs, and every other case handed to the full CLI before anything is printed.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFile, mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startControlServer } from '../../src/ipc/server.js';
import { RawJson } from '../../src/ipc/protocol.js';
import { SupervisorError } from '../../src/core/errors.js';
import { resolveDirs } from '../../src/storage/dirs.js';
import { makeRows, tempDir } from '../ipc/harness.js';

const BIN = fileURLToPath(new URL('../../bin/', import.meta.url));
const FULL_CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const fast = createRequire(import.meta.url)(join(BIN, 'supervisor.cjs')) as {
  psJsonArgs(args: readonly string[]): { libDir: string | undefined } | null;
  libDirOf(flag: string | undefined, env: NodeJS.ProcessEnv, uid: number, cwd: string, home: string): string | null;
};

interface Ran { code: number | null; stdout: Buffer; stderr: string }

function run(script: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
  });
}

const dirs: Array<{ cleanup(): Promise<void> }> = [];
after(async () => { for (const d of dirs) await d.cleanup(); });

async function serve(ps: () => RawJson): Promise<{ dir: string; calls: string[]; close(): Promise<void> }> {
  const tmp = await tempDir();
  dirs.push(tmp);
  const calls: string[] = [];
  const server = await startControlServer({ socketPath: tmp.socketPath, serverInfo: { version: 't', libDir: tmp.dir },
    handlers: { ps: () => { calls.push('ps'); return ps() as RawJson; } } });
  return { dir: tmp.dir, calls, close: () => server.close() };
}

describe('supervisor ps --json: the launcher fast path', () => {
  test('prints the daemon rows byte for byte, as the full CLI does, and needs nothing of dist/', async () => {
    const rows = makeRows(300).map((r, i) => (i % 50 === 0 ? { ...r, message: 'Plugin enabled ✓ — "quoted" \\ back' } : r));
    const srv = await serve(() => RawJson.of(rows));
    try {
      const expected = Buffer.from(`${JSON.stringify(rows)}\n`);
      const viaBin = await run(join(BIN, 'supervisor.cjs'), ['ps', '--json', '--lib-dir', srv.dir]);
      assert.equal(viaBin.code, 0, viaBin.stderr);
      assert.ok(viaBin.stdout.equals(expected), 'the launcher prints the rows as sent');
      const viaFull = await run(FULL_CLI, ['ps', `--lib-dir=${srv.dir}`, '--json']);
      assert.equal(viaFull.code, 0, viaFull.stderr);
      assert.ok(viaFull.stdout.equals(expected), 'the full CLI prints the same bytes');

      // A launcher with no dist/ beside it: it can only have answered by itself.
      const lone = await tempDir();
      dirs.push(lone);
      await mkdir(join(lone.dir, 'bin'));
      await copyFile(join(BIN, 'supervisor.cjs'), join(lone.dir, 'bin', 'supervisor.cjs'));
      const alone = await run(join(lone.dir, 'bin', 'supervisor.cjs'), ['ps', '--json'], { SUPERVISOR_LIB_DIR: srv.dir });
      assert.equal(alone.code, 0, alone.stderr);
      assert.ok(alone.stdout.equals(expected), 'answered without dist/ ($SUPERVISOR_LIB_DIR chose the lib dir)');
      const table = await run(join(lone.dir, 'bin', 'supervisor.cjs'), ['ps', '--lib-dir', srv.dir]);
      assert.equal(table.code, 2, 'the table needs the full CLI, which is missing there');
      assert.match(table.stderr, /dist\/ is missing/);
      assert.equal(srv.calls.length, 3);
    } finally {
      await srv.close();
    }
  });

  test('no daemon, or a daemon that answers with an error: the full CLI runs and says so, nothing half-printed', async () => {
    const empty = await tempDir();
    dirs.push(empty);
    const none = await run(join(BIN, 'supervisor.cjs'), ['ps', '--json', '--lib-dir', empty.dir]);
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stderr, /no daemon is running on/);
    assert.deepEqual(JSON.parse(none.stdout.toString('utf8')), []);

    const srv = await serve(() => { throw new SupervisorError('E_UNKNOWN_HANDLER', 'no rows today'); });
    try {
      const refused = await run(join(BIN, 'supervisor.cjs'), ['ps', '--json', '--lib-dir', srv.dir]);
      assert.equal(refused.stdout.length, 0, 'nothing on stdout');
      assert.equal(refused.code, 2);
      assert.match(refused.stderr, /^supervisor: no rows today$/m);
      assert.equal(srv.calls.length, 2, 'asked once by the fast path, once by the full CLI');
    } finally {
      await srv.close();
    }
  });

  test('a reader that stops early (`supervisor ps | head`): no EPIPE crash, the command exits with its own status', async () => {
    const srv = await serve(() => RawJson.of(makeRows(2000)));
    try {
      for (const args of [['ps', '--json'], ['ps']]) {
        const child = spawn(process.execPath, [join(BIN, 'supervisor.cjs'), ...args, '--lib-dir', srv.dir], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stderr = '';
        child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
        child.stdout.once('data', () => child.stdout.destroy()); // read one chunk, then go away, as head does
        const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
        assert.equal(code, 0, `${args.join(' ')}: ${stderr}`);
        assert.doesNotMatch(stderr, /EPIPE|Unhandled|at /, `${args.join(' ')}: nothing on stderr but what the command says`);
      }
    } finally {
      await srv.close();
    }
  });

  test('takes only `ps --json` with --lib-dir/--log-dir, in any order and either spelling', () => {
    assert.deepEqual(fast.psJsonArgs(['ps', '--json']), { libDir: undefined });
    assert.deepEqual(fast.psJsonArgs(['ps', '--lib-dir', '/l', '--json', '--log-dir=/g']), { libDir: '/l' });
    assert.deepEqual(fast.psJsonArgs(['ps', '--json', '--lib-dir=rel/x']), { libDir: 'rel/x' });
    for (const args of [['ps'], ['ps', '--watch', '--json'], ['ps', '--json', '--json'], ['status', '--json'], ['ps', '--json', '--lib-dir'],
      ['ps', '--json', '--lib-dir', ''], ['ps', '--json', '--lib-dir', '/a', '--lib-dir', '/b'], ['ps', '--json', '--help'], ['ps', '--json', 'extra'], []]) {
      assert.equal(fast.psJsonArgs(args), null, JSON.stringify(args));
    }
  });

  test('chooses the lib dir exactly as resolveDirs does', () => {
    const cases: Array<{ flag?: string; env: NodeJS.ProcessEnv; uid: number }> = [
      { flag: '/abs/lib', env: { SUPERVISOR_LIB_DIR: '/other' }, uid: 0 },
      { flag: 'rel/lib', env: {}, uid: 1000 },
      { env: { SUPERVISOR_LIB_DIR: 'relative/env' }, uid: 1000 },
      { env: { SUPERVISOR_LIB_DIR: '/env/lib', XDG_STATE_HOME: '/xdg' }, uid: 0 },
      { env: {}, uid: 0 },
      { env: { XDG_STATE_HOME: '/xdg/state' }, uid: 1000 },
      { env: { XDG_STATE_HOME: 'not/absolute' }, uid: 1000 },
      { env: { SUPERVISOR_LIB_DIR: '' }, uid: 1000 },
    ];
    for (const c of cases) {
      const want = resolveDirs({ libDir: c.flag, env: c.env, uid: c.uid, cwd: '/work/here', home: '/home/op' }).libDir;
      assert.equal(fast.libDirOf(c.flag, c.env, c.uid, '/work/here', '/home/op'), want, JSON.stringify(c));
    }
  });
});
