/**
 * Issue 15, item 1: FIFOs and links at paths a handler or its package controls. Each handler
 * below plants one (heartbeat.log, HandlerManifest.json, CommandExecution.log, a script's result
 * file, `.supervisor/enable.stdout` as FIFOs; a package shipping `.supervisor/install.stdout` as a
 * link to its manifest), through the real CLI and daemon. Each fails alone with a message naming
 * the file; the neighbour goes on applying goal changes, the CLI answers, SIGTERM stops the
 * daemon, and a restart and an offline `ps` do not hang. Nothing here ever opens the FIFOs'
 * other end: an open that blocked would hang the daemon, which the CLI's deadline then reports.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, copyFile, lstat, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FIXTURE_HANDLER, Workspace, handlerEntry, type BuiltPackage } from '../helpers/handlers.js';
import { killLeftovers } from '../helpers/fleet.js';
import { startCli, type CliResult } from '../helpers/cli.js';
import { dirFlags, startDaemon, waitFor, type RunningDaemon } from '../helpers/daemon.js';
import { packDirectory } from '../../src/supervisor/packages/pack.js';
import { closePackagePool } from '../../src/supervisor/packages/pool.js';

after(() => closePackagePool());

const NAMES = ['Hf.Ok', 'Hf.Beat', 'Hf.Manifest', 'Hf.Log', 'Hf.Out', 'Hf.Script', 'Hf.Shipped'] as const;

/** Runs the CLI, failing (not hanging) when it does not answer within the deadline. */
async function cli(ws: Workspace, args: string[], deadlineMs = 60_000): Promise<CliResult> {
  const { child, done } = startCli([...args, ...dirFlags(ws)]);
  const timer = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
  try {
    const r = await done;
    assert.notEqual(r.signal, 'SIGKILL', `supervisor ${args.join(' ')} did not answer within ${deadlineMs} ms`);
    return r;
  } finally {
    clearTimeout(timer);
  }
}

async function rows(ws: Workspace): Promise<Map<string, Record<string, any>>> {
  const r = await cli(ws, ['ps', '--json']);
  // ps answers with systemctl's codes: 0 all at goal, 1 one Failed, 3 one not running as its goal says.
  assert.ok([0, 1, 3].includes(r.code ?? -1), `ps --json exit ${r.code}: ${r.stderr}`);
  return new Map((JSON.parse(r.stdout) as Array<Record<string, any>>).map((row) => [row.name as string, row]));
}

/** A handler package shipping `.supervisor/install.stdout` as a link to its own manifest. */
async function shippedLinkPackage(ws: Workspace): Promise<{ pkg: BuiltPackage; manifest: string }> {
  const src = join(ws.root, 'src', 'Hf.Shipped-1.0');
  await mkdir(join(src, '.supervisor'), { recursive: true });
  await copyFile(FIXTURE_HANDLER, join(src, 'handler.sh'));
  await chmod(join(src, 'handler.sh'), 0o755);
  const manifest = JSON.stringify([{ name: 'Hf.Shipped', version: '1.0', handlerManifest: {
    installCommand: 'handler.sh install', uninstallCommand: 'handler.sh uninstall', updateCommand: 'handler.sh update',
    enableCommand: 'handler.sh enable', disableCommand: 'handler.sh disable' } }]);
  await writeFile(join(src, 'HandlerManifest.json'), manifest);
  await symlink('../HandlerManifest.json', join(src, '.supervisor', 'install.stdout'));
  const file = join(ws.root, 'pkgs', 'Hf.Shipped-1.0.zip');
  const { sha256 } = await packDirectory(src, file);
  return { pkg: { version: '1.0', sha256, uris: [`file://${file}`], file }, manifest };
}

describe('FIFOs and links a handler plants in its folders', () => {
  test('each fails that handler alone with a clear message; the neighbour, the CLI, SIGTERM, a restart and offline ps go on', async () => {
    const ws = await Workspace.create('exts-hostile-');
    let daemon: RunningDaemon | undefined;
    try {
      const plant = (path: string) => `rm -f ${path}; mkfifo ${path}`;
      const commandLog = join(ws.logDir, 'Hf.Log', 'CommandExecution.log');
      const pkgs = {
        ok: await ws.package({ name: 'Hf.Ok', version: '1.0' }),
        beat: await ws.package({ name: 'Hf.Beat', version: '1.0', manifest: { reportHeartbeat: true }, behavior: { enable: plant('heartbeat.log') } }),
        manifest: await ws.package({ name: 'Hf.Manifest', version: '1.0', behavior: { enable: plant('HandlerManifest.json') } }),
        log: await ws.package({ name: 'Hf.Log', version: '1.0', behavior: { enable: plant(`'${commandLog}'`) } }),
        out: await ws.package({ name: 'Hf.Out', version: '1.0', behavior: { enable: plant('.supervisor/enable.stdout') } }),
        script: await ws.scriptPackage({ name: 'Hf.Script', version: '1.0', behavior: { apply: plant('"$result_file"') } }),
      };
      const shipped = await shippedLinkPackage(ws);
      const goal = (seq: number) => ({
        etag: `g${seq}`,
        handlers: [
          ...(['ok', 'beat', 'manifest', 'log', 'out', 'script'] as const).map((k, i) =>
            handlerEntry(NAMES[i]!, [pkgs[k]], { extensions: [{ name: 'default', sequenceNumber: seq, publicSettings: {} }] })),
          handlerEntry('Hf.Shipped', [shipped.pkg], { extensions: [{ name: 'default', sequenceNumber: seq, publicSettings: {} }] }),
        ],
      });
      const goalFile = await ws.goalState(goal(1));
      daemon = await startDaemon(ws, goalFile);
      const sessionDone = async (etag: string) => {
        const r = await cli(ws, ['sessions', '--json']);
        const s = JSON.parse(r.stdout) as Array<Record<string, any>>;
        return s[0]?.etag === etag && s[0]?.endedAt !== null;
      };
      await waitFor(() => sessionDone('g1'), 60_000, 'the first goal state applied');

      // The first apply: the planted FIFOs are in place once each enable ends.
      assert.ok((await lstat(join(ws.libDir, 'Hf.Beat-1.0', 'heartbeat.log'))).isFIFO());
      assert.ok((await lstat(join(ws.libDir, 'Hf.Manifest-1.0', 'HandlerManifest.json'))).isFIFO());
      assert.ok((await lstat(commandLog)).isFIFO());
      assert.ok((await lstat(join(ws.libDir, 'Hf.Out-1.0', '.supervisor', 'enable.stdout'))).isFIFO());
      // The package's link was dropped at staging: the install's output went to a file of its own, the manifest is what was shipped.
      assert.equal(await readFile(join(ws.libDir, 'Hf.Shipped-1.0', 'HandlerManifest.json'), 'utf8'), shipped.manifest);
      assert.ok((await lstat(join(ws.libDir, 'Hf.Shipped-1.0', '.supervisor', 'install.stdout'))).isFile());

      // Rows settle from events: wait until every handler shows its last operation's end, then judge.
      const settled = async (names: readonly string[], also: (rows: Map<string, Record<string, any>>) => boolean = () => true) => {
        let got = new Map<string, Record<string, any>>();
        await waitFor(async () => {
          got = await rows(ws);
          return names.every((n) => got.get(n)?.lastOperation && got.get(n)!.lastOperation.result !== 'running') && also(got);
        }, 60_000, `the rows of ${names.join(', ')}`);
        return got;
      };
      let now = await settled(NAMES);
      // The script's result file is a FIFO: its apply fails naming it, without the daemon waiting on it.
      assert.equal(now.get('Hf.Script')!.status, 'Failed', JSON.stringify(now.get('Hf.Script')));
      assert.match(now.get('Hf.Script')!.message, /action_apply_aduc_result\.json is a FIFO, not a regular file/);
      // heartbeat.log is a FIFO: that handler is NotReady saying so; the daemon's main thread never waits on it.
      await waitFor(async () => /heartbeat\.log is a FIFO/.test((await rows(ws)).get('Hf.Beat')!.message), 60_000, 'the heartbeat FIFO reported');

      // A goal change still applies: the neighbour enables again; each planted file fails its own handler only.
      await writeFile(goalFile, JSON.stringify(goal(2)));
      await waitFor(() => sessionDone('g2'), 60_000, 'the second goal state applied');
      // Their first enable succeeded (it planted the FIFO); the second cannot read the manifest or open the output.
      now = await settled(NAMES, (r) => r.get('Hf.Manifest')!.status === 'Failed' && r.get('Hf.Out')!.status === 'Failed');
      const ranSeq2 = (await ws.log()).filter((l) => l.op === 'enable' && l.phase === 'start' && l.fields['seq'] === '2').map((l) => l.handler).sort();
      assert.deepEqual(ranSeq2, ['Hf.Beat', 'Hf.Log', 'Hf.Ok', 'Hf.Shipped'], 'every handler whose command could start ran enable for seq 2');
      for (const name of ['Hf.Ok', 'Hf.Shipped', 'Hf.Log']) {
        assert.equal(now.get(name)!.lastOperation?.name, 'enable', `${name}: ${JSON.stringify(now.get(name))}`);
        assert.equal(now.get(name)!.status, 'Ready', `${name}: ${JSON.stringify(now.get(name))}`);
        assert.equal(now.get(name)!.lastOperation.result, 'succeeded');
      }
      assert.equal(now.get('Hf.Manifest')!.status, 'Failed');
      assert.match(now.get('Hf.Manifest')!.message, /HandlerManifest\.json: cannot read the handler manifest: .*HandlerManifest\.json is a FIFO/);
      assert.equal(now.get('Hf.Out')!.status, 'Failed');
      assert.match(now.get('Hf.Out')!.message, /enable\.stdout is a FIFO/);
      assert.equal(await readFile(join(ws.libDir, 'Hf.Shipped-1.0', 'HandlerManifest.json'), 'utf8'), shipped.manifest, 'the manifest is still what was shipped');
      await waitFor(async () => /CommandExecution\.log is a FIFO/.test(await readFile(join(ws.logDir, 'supervisor.log'), 'utf8')),
        60_000, 'the refused command log reported in supervisor.log');

      // The CLI answers about every handler, the hostile ones included.
      for (const name of NAMES) {
        const s = await cli(ws, ['status', name, '--json']);
        assert.ok([0, 1, 3].includes(s.code ?? -1), `status ${name} answers (systemctl's codes): exit ${s.code} ${s.stderr}`);
        assert.equal(JSON.parse(s.stdout).name, name);
      }
      const logs = await cli(ws, ['logs', 'Hf.Ok', '--lines', '5']);
      assert.equal(logs.code, 0, logs.stderr);
      assert.match(logs.stdout, /Hf\.Ok enable 1\.0 succeeded/);

      // SIGTERM stops the daemon gracefully.
      const exit = await daemon.stop();
      daemon = undefined;
      assert.equal(exit.code, 0, `graceful stop after SIGTERM: ${JSON.stringify(exit)}`);

      // Offline ps reads the same folders without a daemon and answers.
      const offline = await cli(ws, ['ps', '--json']);
      assert.ok([0, 1, 3].includes(offline.code ?? -1), `offline ps answers: exit ${offline.code} ${offline.stderr}`);
      assert.match(offline.stderr, /no daemon is running/);
      const offRows = new Map((JSON.parse(offline.stdout) as Array<Record<string, any>>).map((r) => [r.name as string, r]));
      assert.deepEqual([...offRows.keys()].sort(), [...NAMES].sort());
      assert.equal(offRows.get('Hf.Ok')!.status, 'Ready');

      // A restart reaches its socket (startDaemon waits for it), answers, and stops on request.
      daemon = await startDaemon(ws, goalFile);
      const again = await rows(ws);
      assert.equal(again.get('Hf.Ok')!.status, 'Ready');
      const stopped = await cli(ws, ['stop']);
      assert.equal(stopped.code, 0, stopped.stderr);
      const exit2 = await daemon.done;
      daemon = undefined;
      assert.equal(exit2.code, 0, JSON.stringify(exit2));
    } finally {
      if (daemon) await daemon.stop();
      await killLeftovers(ws);
      await ws.dispose();
    }
  });
});
