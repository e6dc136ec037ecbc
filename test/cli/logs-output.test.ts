/**
 * `supervisor logs` shows what a handler's commands printed beside its lifecycle lines, follows
 * both, filters by time, and shows every handler at once with a `NAME | ` prefix (issue 18).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Workspace, handlerEntry } from '../helpers/handlers.js';
import { killLeftovers } from '../helpers/fleet.js';
import { runCli, startCli } from '../helpers/cli.js';
import { dirFlags, startDaemon, waitFor } from '../helpers/daemon.js';
import { handlerPaths } from '../../src/storage/layout.js';
import { closePackagePool } from '../../src/supervisor/packages/pool.js';

after(() => closePackagePool());

describe("logs: the handler's own output", () => {
  test('stdout and stderr per operation, --output/--no-output/--op, all handlers prefixed, -f, --since', async () => {
    const ws = await Workspace.create('exts-logs-out-');
    let daemon;
    try {
      const out = await ws.package({ name: 'L.Out', version: '1.0', behavior: {
        install: 'echo "installing now"',
        // A service left running by enable writes once the test drops the trigger file.
        enable: 'echo "hello from enable"; echo "warn from enable" >&2; '
          + '( while [ ! -f "$here/go" ]; do sleep 0.1; done; echo "after trigger" ) &',
      } });
      const two = await ws.package({ name: 'L.Two', version: '1.0', behavior: { enable: 'echo "two says hi"' } });
      const goal = await ws.goalState({ etag: 'one', handlers: [handlerEntry('L.Out', [out]), handlerEntry('L.Two', [two])] });
      daemon = await startDaemon(ws, goal);
      const logs = async (...args: string[]) => runCli(['logs', ...args, ...dirFlags(ws)]);
      await waitFor(async () => /L\.Two enable 1\.0 succeeded/.test((await logs('L.Two')).stdout)
        && /L\.Out enable 1\.0 succeeded/.test((await logs('L.Out')).stdout), 60_000, 'both enabled');

      const one = await logs('L.Out');
      assert.equal(one.code, 0, one.stderr);
      assert.match(one.stdout, /^\[enable stdout\] hello from enable$/m);
      assert.match(one.stdout, /^\[enable stderr\] warn from enable$/m);
      assert.match(one.stdout, /^\[install stdout\] installing now$/m);
      assert.match(one.stdout, /L\.Out enable 1\.0 succeeded/);
      assert.doesNotMatch(one.stdout, /two says hi/);

      const lifecycle = await logs('L.Out', '--no-output');
      assert.match(lifecycle.stdout, /L\.Out enable 1\.0 succeeded/);
      assert.doesNotMatch(lifecycle.stdout, /\[enable stdout\]/);
      const output = await logs('L.Out', '--output');
      assert.match(output.stdout, /hello from enable/);
      assert.doesNotMatch(output.stdout, /succeeded/);
      const install = await logs('L.Out', '--op', 'install');
      assert.deepEqual(install.stdout.trim().split('\n'), ['[install stdout] installing now']);

      const all = await logs();
      assert.equal(all.code, 0, all.stderr);
      const lines = all.stdout.trim().split('\n');
      assert.ok(lines.every((l) => /^L\.(Out|Two) \| /.test(l)), all.stdout);
      assert.ok(lines.includes('L.Two | [enable stdout] two says hi'), all.stdout);
      assert.ok(lines.includes('L.Out | [enable stdout] hello from enable'), all.stdout);

      // -f over every handler: the initial lines, then a line the service writes afterwards.
      const follower = startCli(['logs', '-f', ...dirFlags(ws)]);
      let followed = '';
      follower.child.stdout!.on('data', (d: Buffer) => { followed += d.toString('utf8'); });
      try {
        await waitFor(() => followed.includes('L.Two | [enable stdout] two says hi'), 30_000, 'the initial lines of logs -f');
        const before = Date.now();
        // The kernel's file times are coarse (a tick): the trigger's write must be later than `before` by more.
        await new Promise((r) => setTimeout(r, 100));
        await writeFile(join(handlerPaths(ws.dirs, 'L.Out', '1.0').dir, 'go'), '');
        await waitFor(() => followed.includes('L.Out | [enable stdout] after trigger\n'), 30_000, 'the line written after logs -f started');
        follower.child.kill('SIGINT');
        assert.equal((await follower.done).code, 0);

        // --since: the lifecycle lines and L.Two's output are older; enable's stdout was written since.
        const since = await logs('--since', new Date(before).toISOString());
        assert.equal(since.code, 0, since.stderr);
        assert.match(since.stdout, /^L\.Out \| \[enable stdout\] after trigger$/m);
        assert.doesNotMatch(since.stdout, /succeeded|two says hi|installing now|warn from enable/);
        assert.match((await logs('--since', '1h')).stdout, /L\.Two \| \[enable stdout\] two says hi/);
        const bad = await logs('L.Out', '--since', 'yesterday-ish');
        assert.equal(bad.code, 2);
        assert.match(bad.stderr, /--since "yesterday-ish"/);
      } finally {
        follower.child.kill('SIGKILL');
        await follower.done;
      }
      assert.equal((await logs('L.Nope')).code, 2, 'no such log');
    } finally {
      await daemon?.stop();
      await killLeftovers(ws);
      await ws.dispose();
    }
  });
});
