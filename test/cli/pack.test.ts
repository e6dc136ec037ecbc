import { test, describe, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packCommand } from '../../src/cli/pack.js';
import { validatePackageFile } from '../../src/supervisor/packages/validate-package.js';
import { closePackagePool } from '../../src/supervisor/packages/pool.js';
import { manifestText, sha256, writeTree } from '../helpers/packages-archives.js';

let base: string;

beforeEach(async () => { base = await mkdtemp(join(tmpdir(), 'cli-pack-')); });
afterEach(async () => { await rm(base, { recursive: true, force: true }); });
after(async () => { await closePackagePool(); });

function capture() {
  const out = { stdout: '', stderr: '' };
  return { out, io: { stdout: (s: string) => { out.stdout += s; }, stderr: (s: string) => { out.stderr += s; } } };
}

describe('supervisor pack', () => {
  test('prints "<sha256>  <file>" like sha256sum and exits 0; the package validates', async () => {
    const dir = join(base, 'handler');
    await writeTree(dir, { 'HandlerManifest.json': manifestText('Contoso.Cli', '3.0'), 'run.sh': 'exit 0' });
    const file = join(base, 'handler.zip');
    const { out, io } = capture();
    assert.equal(await packCommand(dir, { output: file }, io), 0);
    assert.equal(out.stdout, `${sha256(await readFile(file))}  ${file}\n`);
    assert.equal(out.stderr, '');
    assert.deepEqual(await validatePackageFile(file), { name: 'Contoso.Cli', version: '3.0', form: 'command' });
  });

  test('a folder without a valid manifest prints the error and exits 2', async () => {
    const dir = join(base, 'broken');
    await writeTree(dir, { 'HandlerManifest.json': '{"not": "an array"}' });
    const { out, io } = capture();
    assert.equal(await packCommand(dir, {}, io), 2);
    assert.equal(out.stdout, '');
    assert.match(out.stderr, /^supervisor pack: .*HandlerManifest\.json.*must be an array/s);
  });

  test('an unwritable output is an error with exit 2, not a crash', async () => {
    const dir = join(base, 'handler');
    await writeTree(dir, { 'HandlerManifest.json': manifestText() });
    const { out, io } = capture();
    assert.equal(await packCommand(dir, { output: join(base, 'no/such/dir/x.zip') }, io), 2);
    assert.match(out.stderr, /cannot write .*x\.zip: .*ENOENT/);
  });
});
