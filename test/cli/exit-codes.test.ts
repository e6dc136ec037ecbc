/**
 * Exit codes of `ps` and `status`, as `systemctl status`: 0 at its goal, 1 Failed, 3 not running as
 * its goal says, 4 no such handler; and a wrong --lib-dir is an error naming it. Real daemon, real CLI.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Workspace, handlerEntry } from '../helpers/handlers.js';
import { killLeftovers } from '../helpers/fleet.js';
import { runCli } from '../helpers/cli.js';
import { dirFlags, startDaemon, waitFor } from '../helpers/daemon.js';
import { closePackagePool } from '../../src/supervisor/packages/pool.js';
import { exitForRows } from '../../src/cli/health.js';
import type { HandlerRow } from '../../src/protocol/ps-rows.js';

after(() => closePackagePool());

const launcher = createRequire(import.meta.url)(fileURLToPath(new URL('../../bin/supervisor.cjs', import.meta.url))) as {
  psExitCode(rows: readonly unknown[]): number;
};

type Health = Pick<HandlerRow, 'status' | 'state' | 'desiredState'>;

describe('exit codes', () => {
  test('the launcher fast path and the full CLI compute the same code from the same rows', () => {
    const cases: Health[][] = [
      [],
      [{ status: 'Ready', state: 'Enabled', desiredState: 'enabled' }],
      [{ status: 'NotReady', state: 'Installed', desiredState: 'disabled' }],
      [{ status: 'Ready', state: 'Enabled', desiredState: 'enabled' }, { status: 'Unresponsive', state: 'Enabled', desiredState: 'enabled' }],
      [{ status: 'Installing', state: 'NotInstalled', desiredState: 'enabled' }],
      [{ status: 'Unresponsive', state: 'Enabled', desiredState: 'enabled' }, { status: 'Failed', state: 'Installed', desiredState: 'enabled' }],
    ];
    assert.deepEqual(cases.map((rows) => exitForRows(rows)), [0, 0, 0, 3, 3, 1]);
    assert.deepEqual(cases.map((rows) => launcher.psExitCode(rows)), cases.map((rows) => exitForRows(rows)));
  });

  test('Ready 0, Failed 1, unknown 4, from the daemon and from disk; ps says 1 when one is Failed', async () => {
    const ws = await Workspace.create('exts-exit-');
    let daemon;
    try {
      const ok = await ws.package({ name: 'E.Ok', version: '1.0' });
      const bad = await ws.package({ name: 'E.Bad', version: '1.0', behavior: { enable: 'rc=3' } });
      const goal = await ws.goalState({ etag: 'one', handlers: [handlerEntry('E.Ok', [ok]), handlerEntry('E.Bad', [bad])] });
      daemon = await startDaemon(ws, goal);
      const statusOf = async (name: string): Promise<string | undefined> => {
        const rows = JSON.parse((await runCli(['ps', '--json', ...dirFlags(ws)])).stdout) as HandlerRow[];
        return rows.find((r) => r.name === name)?.status;
      };
      await waitFor(async () => (await statusOf('E.Ok')) === 'Ready' && (await statusOf('E.Bad')) === 'Failed', 60_000, 'E.Ok Ready, E.Bad Failed');
      for (const where of ['daemon', 'disk']) {
        if (where === 'disk') await daemon.stop();
        const okStatus = await runCli(['status', 'E.Ok', ...dirFlags(ws)]);
        assert.equal(okStatus.code, 0, `${where}: Ready is 0 (${okStatus.stderr})`);
        const badStatus = await runCli(['status', 'E.Bad', ...dirFlags(ws)]);
        assert.equal(badStatus.code, 1, `${where}: Failed is 1`);
        assert.match(badStatus.stdout, /status:\s+Failed/);
        const missing = await runCli(['status', 'E.Nope', ...dirFlags(ws)]);
        assert.equal(missing.code, 4, `${where}: no such handler is 4`);
        assert.match(missing.stderr, /no handler named "E\.Nope"/);
        for (const args of [['ps'], ['ps', '--json']]) {
          const ps = await runCli([...args, ...dirFlags(ws)]);
          assert.equal(ps.code, 1, `${where}: ${args.join(' ')} with a Failed handler is 1`);
          assert.match(ps.stdout, /E\.Bad/);
        }
      }
    } finally {
      await daemon?.stop();
      await killLeftovers(ws);
      await ws.dispose();
    }
  });

  test('a lib dir that is missing or a file is an error naming it, never "no handlers"', async () => {
    const ws = await Workspace.create('exts-libdir-');
    try {
      const missing = join(ws.root, 'no-such-lib');
      const file = join(ws.root, 'a-file');
      await writeFile(file, 'not a folder\n');
      for (const [lib, why] of [[missing, /no lib dir at .*no-such-lib/], [file, /lib dir .*a-file is not a folder/]] as const) {
        for (const args of [['ps'], ['ps', '--json'], ['status', 'X'], ['logs', 'X'], ['report'], ['sessions'], ['reload'], ['restart', 'X'], ['retry', 'X']]) {
          const r = await runCli([...args, '--lib-dir', lib]);
          assert.equal(r.code, 2, `${args.join(' ')} --lib-dir ${lib}: ${r.stderr}`);
          assert.match(r.stderr, why);
          assert.doesNotMatch(r.stdout, /no handlers/);
        }
      }
    } finally {
      await ws.dispose();
    }
  });
});
