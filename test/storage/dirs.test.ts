import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDir, libIdOf, resolveDirs, type ResolveDirsOptions } from '../../src/storage/dirs.js';
import { SupervisorError } from '../../src/core/errors.js';

describe('resolveDirs', () => {
  const user: ResolveDirsOptions = { uid: 1000, home: '/home/ann', env: {}, cwd: '/work/here' };
  const root: ResolveDirsOptions = { uid: 0, home: '/root', env: {}, cwd: '/work/here' };

  const table: Array<[string, ResolveDirsOptions, string, string]> = [
    ['root, nothing set', root, '/var/lib/ext-supervisor', '/var/log/ext-supervisor'],
    ['user, nothing set', user, '/home/ann/.local/state/ext-supervisor', '/home/ann/.local/state/ext-supervisor/log'],
    ['user, XDG_STATE_HOME', { ...user, env: { XDG_STATE_HOME: '/xdg/state' } }, '/xdg/state/ext-supervisor', '/xdg/state/ext-supervisor/log'],
    ['user, empty XDG_STATE_HOME', { ...user, env: { XDG_STATE_HOME: '' } }, '/home/ann/.local/state/ext-supervisor', '/home/ann/.local/state/ext-supervisor/log'],
    ['user, relative XDG_STATE_HOME is ignored', { ...user, env: { XDG_STATE_HOME: 'state' } }, '/home/ann/.local/state/ext-supervisor', '/home/ann/.local/state/ext-supervisor/log'],
    ['root ignores XDG_STATE_HOME', { ...root, env: { XDG_STATE_HOME: '/xdg' } }, '/var/lib/ext-supervisor', '/var/log/ext-supervisor'],
    ['user, env lib dir', { ...user, env: { SUPERVISOR_LIB_DIR: '/srv/sup' } }, '/srv/sup', '/srv/sup/log'],
    ['root, env lib dir keeps the system log dir', { ...root, env: { SUPERVISOR_LIB_DIR: '/srv/sup' } }, '/srv/sup', '/var/log/ext-supervisor'],
    ['env log dir', { ...user, env: { SUPERVISOR_LOG_DIR: '/logs' } }, '/home/ann/.local/state/ext-supervisor', '/logs'],
    ['empty env values count as unset', { ...root, env: { SUPERVISOR_LIB_DIR: '', SUPERVISOR_LOG_DIR: '' } }, '/var/lib/ext-supervisor', '/var/log/ext-supervisor'],
    ['flags win over env', { ...root, libDir: '/flag/lib', logDir: '/flag/log', env: { SUPERVISOR_LIB_DIR: '/env/lib', SUPERVISOR_LOG_DIR: '/env/log' } }, '/flag/lib', '/flag/log'],
    ['lib flag alone: user log follows it', { ...user, libDir: '/flag/lib' }, '/flag/lib', '/flag/lib/log'],
    ['relative flags resolve against cwd', { ...user, libDir: 'lib', logDir: '../logs' }, '/work/here/lib', '/work/logs'],
    ['relative env resolves against cwd', { ...user, env: { SUPERVISOR_LIB_DIR: './state/' } }, '/work/here/state', '/work/here/state/log'],
    ['trailing slashes are dropped', { ...root, libDir: '/a/b/', logDir: '/c//d/' }, '/a/b', '/c/d'],
  ];

  for (const [name, opts, lib, log] of table) {
    test(name, () => {
      assert.deepEqual(resolveDirs(opts), { libDir: lib, logDir: log });
    });
  }

  test('defaults come from the process', () => {
    const dirs = resolveDirs({ libDir: 'x', logDir: '/y' });
    assert.equal(dirs.libDir, join(process.cwd(), 'x'));
    assert.equal(dirs.logDir, '/y');
  });

  test('an empty flag is a usage error naming the flag', () => {
    assert.throws(() => resolveDirs({ ...user, libDir: '' }), (e: unknown) => e instanceof SupervisorError && e.code === 'E_USAGE' && /--lib-dir/.test(e.message));
    assert.throws(() => resolveDirs({ ...user, logDir: ' ' }), (e: unknown) => e instanceof SupervisorError && /--log-dir/.test(e.message));
  });

  test('a user with no home and no XDG_STATE_HOME cannot get a default', () => {
    assert.throws(() => resolveDirs({ ...user, home: '' }), (e: unknown) => e instanceof SupervisorError && e.code === 'E_NO_LIB_DIR');
    assert.equal(resolveDirs({ ...user, home: '', env: { XDG_STATE_HOME: '/s' } }).libDir, '/s/ext-supervisor');
  });
});

describe('ensureDir', () => {
  let dir = '';
  let umask = 0;
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'dirs-')); umask = process.umask(); });
  afterEach(async () => { process.umask(umask); await rm(dir, { recursive: true, force: true }); });

  async function modeOf(path: string): Promise<number> {
    return (await stat(path)).mode & 0o7777;
  }

  for (const mask of [0o077, 0o022]) {
    test(`creates missing parents and the folder with exact modes under umask ${mask.toString(8).padStart(3, '0')}`, async () => {
      process.umask(mask);
      const deep = join(dir, 'a', 'b', 'c');
      await ensureDir(deep);
      for (const p of [join(dir, 'a'), join(dir, 'a', 'b'), deep]) assert.equal(await modeOf(p), 0o700, p);
      const shared = join(dir, 'log', 'Contoso.Monitor');
      await ensureDir(shared, 0o755);
      assert.equal(await modeOf(join(dir, 'log')), 0o755);
      assert.equal(await modeOf(shared), 0o755);
    });
  }

  test('fixes the mode of an existing folder but leaves existing parents alone', async () => {
    const parent = join(dir, 'parent');
    await mkdir(join(parent, 'child'), { recursive: true });
    await chmod(parent, 0o751);
    await chmod(join(parent, 'child'), 0o777);
    await ensureDir(join(parent, 'child'));
    assert.equal(await modeOf(join(parent, 'child')), 0o700);
    assert.equal(await modeOf(parent), 0o751);
    await ensureDir(join(parent, 'child'));
    assert.equal(await modeOf(join(parent, 'child')), 0o700, 'idempotent');
  });

  test('refuses a path that is a file', async () => {
    const file = join(dir, 'file');
    await writeFile(file, '');
    await assert.rejects(ensureDir(file), (e: unknown) => e instanceof SupervisorError && e.code === 'E_NOT_A_DIRECTORY');
    await assert.rejects(ensureDir(join(file, 'below')), (e: unknown) => e instanceof SupervisorError && e.code === 'E_MKDIR' && /below/.test(e.message));
  });
});

describe('libIdOf', () => {
  test('is the first 12 hex of sha256 of the absolute path', () => {
    const expected = createHash('sha256').update('/var/lib/ext-supervisor').digest('hex').slice(0, 12);
    assert.equal(libIdOf('/var/lib/ext-supervisor'), expected);
    assert.match(expected, /^[0-9a-f]{12}$/);
  });

  test('the same folder spelled differently gives the same id; another folder another', () => {
    assert.equal(libIdOf('/var/lib/ext-supervisor/'), libIdOf('/var/lib/./ext-supervisor'));
    assert.equal(libIdOf('rel/dir'), libIdOf(join(process.cwd(), 'rel', 'dir')));
    assert.notEqual(libIdOf('/var/lib/ext-supervisor'), libIdOf('/var/lib/ext-supervisor2'));
  });
});
