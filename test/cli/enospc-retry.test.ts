// Issue 15.5: an enable that failed because the disk was full was never tried again until the etag
// changed. It is now retried with backoff, and its message says what could not be written and when
// it is retried (not "interrupted by a supervisor restart"). The disk is a real, small tmpfs.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Workspace, handlerEntry, parseLog } from '../helpers/handlers.js';
import { killLeftovers } from '../helpers/fleet.js';
import { runCli } from '../helpers/cli.js';
import { dirFlags, startDaemon, waitFor } from '../helpers/daemon.js';
import { closePackagePool } from '../../src/supervisor/packages/pool.js';

after(() => closePackagePool());

/** Writes `file` until the file system has not one byte left (chunks shrink down to 1 byte). */
async function fill(file: string): Promise<void> {
  const fh = await open(file, 'w');
  try {
    for (const size of [1 << 20, 64 << 10, 4 << 10, 512, 1]) {
      const chunk = Buffer.alloc(size, 1);
      try {
        for (;;) await fh.write(chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      }
    }
  } finally {
    await fh.close();
  }
}

describe('a full disk during an enable', () => {
  test('the enable is retried with backoff once space is back, without a new etag, and says why it waits', async () => {
    const ws = await Workspace.create('exts-enospc-');
    await mkdir(ws.libDir, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m,mode=0700', 'tmpfs', ws.libDir]);
    // The fixture's own log is kept off the full disk.
    const fixtureLog = join(ws.root, 'fixture.log');
    process.env['FIXTURE_LOG'] = fixtureLog;
    const enables = async () => parseLog(await readFile(fixtureLog, 'utf8').catch(() => ''))
      .filter((l) => l.op === 'enable' && l.phase === 'start').map((l) => l.fields['seq']);
    let daemon;
    try {
      const pkg = await ws.package({ name: 'Full.H', version: '1.0' });
      const entry = (seq: number) => handlerEntry('Full.H', [pkg], { extensions: [{ name: 'default', sequenceNumber: seq, publicSettings: { seq } }] });
      const goal = await ws.goalState({ etag: 'e1', handlers: [entry(1)] });
      daemon = await startDaemon(ws, goal);
      type Session = { etag: string; result: string };
      const ended = async (etag: string) =>
        (JSON.parse((await runCli(['sessions', '--json', ...dirFlags(ws)])).stdout) as Session[]).some((x) => x.etag === etag && x.result !== 'running');
      await waitFor(async () => (await enables()).includes('1') && await ended('e1'), 30_000, 'the first enable, its goal state applied');

      const filler = join(ws.libDir, 'filler');
      await fill(filler);
      await ws.goalState({ etag: 'e2', handlers: [entry(2)] });
      type Row = { name: string; status: string; code: number; message: string };
      const row = async (): Promise<Row | undefined> => {
        const r = await runCli(['ps', '--json', ...dirFlags(ws)]);
        // ps exits as systemctl status does: 1 while Full.H is Failed, and still prints its rows.
        return [0, 1, 3].includes(r.code ?? -1) ? (JSON.parse(r.stdout) as Row[]).find((x) => x.name === 'Full.H') : undefined;
      };
      let seen: Row | undefined;
      await waitFor(async () => {
        seen = await row();
        return /no space left on device/.test(seen?.message ?? '');
      }, 30_000, 'the enable to fail on the full disk');
      assert.match(seen!.message, /^could not write \/\S+: no space left on device \(ENOSPC\); retrying in \d+ s/);
      assert.doesNotMatch(seen!.message, /supervisor restart/);

      await rm(filler);
      await waitFor(async () => (await enables()).includes('2'), 60_000, 'the enable of sequence number 2, with the same etag').catch(async (e) => {
        throw new Error(`${(e as Error).message}; ps: ${JSON.stringify(await row())}\n${await readFile(join(ws.logDir, 'supervisor.log'), 'utf8')}`);
      });
      await waitFor(async () => (await row())?.status === 'Ready', 30_000, 'Full.H Ready');
      const after = (await row())!;
      assert.equal(after.code, 0);
      assert.doesNotMatch(after.message, /supervisor restart|no space/);
      // Which write fails first depends on what else the daemon was writing when the disk filled
      // (the record after the enable ran, then that enable runs again): either way, sequence 2 is enabled.
      assert.deepEqual([...new Set(await enables())], ['1', '2']);
      const settings = JSON.parse(await readFile(join(ws.libDir, 'Full.H-1.0', 'config', '2.settings'), 'utf8'));
      assert.deepEqual(settings.runtimeSettings[0].handlerSettings.publicSettings, { seq: 2 });

      assert.equal((await daemon.stop()).code, 0);
      daemon = undefined;
      const log = await readFile(join(ws.logDir, 'supervisor.log'), 'utf8');
      assert.doesNotMatch(log, /interrupted by a supervisor restart/);
    } finally {
      await daemon?.stop();
      await killLeftovers(ws);
      delete process.env['FIXTURE_LOG'];
      execFileSync('umount', ['-l', ws.libDir]);
      await ws.dispose();
    }
  });
});
