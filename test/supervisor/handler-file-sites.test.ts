/**
 * Each place that opens a file a handler or its package controls, given a FIFO or a link there:
 * it answers at once (nothing here ever opens a FIFO's other end, so an open that waited would
 * hang the test), names the file, and never writes through a link.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readHeartbeatNow, statStamp } from '../../src/supervisor/monitor/heartbeat-read.js';
import { readTail } from '../../src/supervisor/process/tail.js';
import { readExitFile } from '../../src/supervisor/process/exit-file.js';
import { openOutputs, closeOutputs } from '../../src/supervisor/process/output-files.js';
import { boundOutputs } from '../../src/supervisor/logging/output-bounds.js';
import { CommandLog, commandLogPath } from '../../src/supervisor/logging/command-log.js';
import { lastLines } from '../../src/supervisor/logging/tail-lines.js';
import { readResultFile } from '../../src/supervisor/script/run-script-action.js';
import { readInstalledManifest } from '../../src/supervisor/lifecycle/fetch-step.js';
import { copyHandlerState } from '../../src/supervisor/lifecycle/prepare.js';
import { dropSupervisorFolder } from '../../src/supervisor/packages/stage.js';
import { handlerPaths } from '../../src/storage/layout.js';

let root: string;
const fifo = async (path: string): Promise<string> => { execFileSync('mkfifo', [path]); return path; };
const MANIFEST = '[{"name":"H","version":"1.0","handlerManifest":{"installCommand":"i","uninstallCommand":"u","updateCommand":"up","enableCommand":"e","disableCommand":"d"}}]';

before(async () => { root = await mkdtemp(join(tmpdir(), 'exts-sites-')); });
after(async () => { await rm(root, { recursive: true, force: true }); });

async function dir(name: string): Promise<string> {
  const d = join(root, name);
  await mkdir(d, { recursive: true });
  return d;
}

describe('reads', () => {
  test('heartbeat.log: a FIFO or link is unreadable, said at once; the stamp is the link\'s own', async () => {
    const d = await dir('hb');
    const r = readHeartbeatNow(await fifo(join(d, 'heartbeat.log')));
    assert.equal(r.kind, 'unreadable');
    assert.match((r as { problem: string }).problem, /heartbeat\.log is a FIFO, not a regular file/);
    await writeFile(join(d, 'real'), '[{"heartbeat":{"status":"ready","code":0}}]');
    await symlink('real', join(d, 'link.log'));
    assert.match((readHeartbeatNow(join(d, 'link.log')) as { problem: string }).problem, /link\.log is a symbolic link/);
    const stamp = statStamp(join(d, 'link.log'));
    assert.ok(stamp && stamp !== 'error' && stamp.size === 'real'.length, 'lstat: the size of the link itself');
  });

  test('HandlerManifest.json as a FIFO is a bad manifest of that handler, not a missing one', async () => {
    const paths = handlerPaths({ libDir: await dir('lib'), logDir: join(root, 'log') }, 'H', '1.0');
    await mkdir(paths.dir, { recursive: true });
    await assert.rejects(readInstalledManifest(paths), (err: { code: string }) => err.code === 'E_MANIFEST_MISSING');
    await fifo(paths.manifestFile);
    await assert.rejects(readInstalledManifest(paths),
      (err: { code: string; message: string }) => err.code === 'E_PACKAGE_MANIFEST' && /HandlerManifest\.json is a FIFO/.test(err.message));
    await rm(paths.manifestFile);
    await writeFile(paths.manifestFile, MANIFEST);
    assert.equal((await readInstalledManifest(paths)).name, 'H');
  });

  test('output tails, exit files, result files and the command log: a FIFO is refused or empty, never waited on', async () => {
    const d = await dir('reads');
    await assert.rejects(readTail(await fifo(join(d, 'enable.stdout'))), /enable\.stdout is a FIFO/);
    assert.equal(await readExitFile(await fifo(join(d, 'enable.exit'))), null);
    assert.deepEqual(await readResultFile(await fifo(join(d, 'action_apply_aduc_result.json'))),
      { kind: 'unreadable', reason: `${join(d, 'action_apply_aduc_result.json')} is a FIFO, not a regular file: the supervisor does not use it` });
    assert.deepEqual(await lastLines(await fifo(join(d, 'CommandExecution.log')), 5), []);
  });
});

describe('writes', () => {
  test('output files: a FIFO is refused without blocking; a link to the manifest is refused and the manifest kept', async () => {
    const d = await dir('outputs');
    await writeFile(join(d, 'HandlerManifest.json'), MANIFEST);
    await symlink('HandlerManifest.json', join(d, 'install.stdout'));
    assert.throws(() => openOutputs(join(d, 'install.stdout'), join(d, 'install.stderr')), /install\.stdout is a symbolic link/);
    await fifo(join(d, 'enable.stderr'));
    assert.throws(() => openOutputs(join(d, 'enable.stdout'), join(d, 'enable.stderr')), /enable\.stderr is a FIFO/);
    assert.equal(await readFile(join(d, 'HandlerManifest.json'), 'utf8'), MANIFEST);
    await writeFile(join(d, 'ok.stdout'), 'old run');
    closeOutputs(openOutputs(join(d, 'ok.stdout'), join(d, 'ok.stdout')));
    assert.equal(await readFile(join(d, 'ok.stdout'), 'utf8'), '', 'a regular file is emptied for the new run');
  });

  test('bounding outputs skips a link and a FIFO: the link\'s target keeps its content', async () => {
    const d = await dir('bounds');
    const target = join(root, 'precious.txt');
    await writeFile(target, 'x'.repeat(50_000));
    await symlink(target, join(d, 'enable.stdout'));
    await fifo(join(d, 'disable.stdout'));
    assert.deepEqual(await boundOutputs(d, 10_000, 2000), []);
    assert.equal((await readFile(target, 'utf8')).length, 50_000);
  });

  test('CommandExecution.log as a FIFO: the append is refused and reported, and the next handler\'s log is written', async () => {
    const logDir = await dir('logs');
    const errors: unknown[] = [];
    const log = new CommandLog({ logDir }, (err) => errors.push(err));
    await mkdir(join(logDir, 'Bad'), { recursive: true });
    await fifo(commandLogPath(logDir, 'Bad'));
    await Promise.all([log.append('Bad', 'line\n'), log.append('Good', 'line\n')]);
    await log.idle();
    assert.equal(errors.length, 1);
    assert.match(String((errors[0] as Error).message), /Bad\/CommandExecution\.log is a FIFO/);
    assert.equal(await readFile(commandLogPath(logDir, 'Good'), 'utf8'), 'line\n');
  });

  test('upgrade copy: the new package\'s link at mrseq or a status file is replaced, not written through', async () => {
    const dirs = { libDir: await dir('up'), logDir: join(root, 'up-log') };
    const from = handlerPaths(dirs, 'H', '1.0');
    const to = handlerPaths(dirs, 'H', '2.0');
    await mkdir(from.statusFolder, { recursive: true });
    await mkdir(to.statusFolder, { recursive: true });
    await writeFile(join(from.dir, 'mrseq'), '3');
    await writeFile(join(from.statusFolder, '3.status'), '[]');
    await fifo(join(from.statusFolder, '4.status'));
    await writeFile(to.manifestFile, MANIFEST);
    await symlink('HandlerManifest.json', join(to.dir, 'mrseq'));
    await symlink('../HandlerManifest.json', join(to.statusFolder, '3.status'));
    assert.deepEqual(await copyHandlerState(from, to), ['mrseq', 'status/3.status'], 'the FIFO is not copied');
    assert.equal(await readFile(to.manifestFile, 'utf8'), MANIFEST);
    assert.ok((await lstat(join(to.dir, 'mrseq'))).isFile());
    assert.equal(await readFile(join(to.dir, 'mrseq'), 'utf8'), '3');
  });

  test('staging drops a package\'s own .supervisor entry, a link removed without following it', async () => {
    const pkg = await dir('pkg');
    await writeFile(join(pkg, 'HandlerManifest.json'), MANIFEST);
    assert.equal(await dropSupervisorFolder(pkg), false);
    await mkdir(join(pkg, '.supervisor'));
    await symlink('../HandlerManifest.json', join(pkg, '.supervisor', 'install.stdout'));
    assert.equal(await dropSupervisorFolder(pkg), true);
    await assert.rejects(lstat(join(pkg, '.supervisor')), /ENOENT/);
    const elsewhere = await dir('elsewhere');
    await symlink(elsewhere, join(pkg, '.supervisor'));
    assert.equal(await dropSupervisorFolder(pkg), true);
    assert.ok((await lstat(elsewhere)).isDirectory(), 'the link\'s target stays');
    assert.equal(await readFile(join(pkg, 'HandlerManifest.json'), 'utf8'), MANIFEST);
  });
});
