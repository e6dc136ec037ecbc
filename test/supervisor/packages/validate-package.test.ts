import { test, describe, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validatePackageFile } from '../../../src/supervisor/packages/validate-package.js';
import { closePackagePool } from '../../../src/supervisor/packages/pool.js';
import { SupervisorError } from '../../../src/core/errors.js';
import { manifestText, rawTarGz, rawZip, walk, yazlZip } from '../../helpers/packages-archives.js';

let base: string;
let scratch: string;
const savedTmp = process.env['TMPDIR'];

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'pkg-validate-'));
  // validatePackageFile extracts under os.tmpdir(): point it at a folder this test can watch.
  scratch = join(base, 'tmp');
  await mkdir(scratch);
  process.env['TMPDIR'] = scratch;
});
afterEach(async () => {
  if (savedTmp === undefined) delete process.env['TMPDIR']; else process.env['TMPDIR'] = savedTmp;
  await rm(base, { recursive: true, force: true });
});
after(async () => { await closePackagePool(); });

/** Folders validation left in the temp dir (tsx's compile cache of the worker thread is not ours). */
async function leftovers(): Promise<string[]> {
  return (await walk(scratch)).filter((p) => p.startsWith('supervisor-validate-'));
}

async function file(name: string, body: Buffer): Promise<string> {
  const path = join(base, name);
  await writeFile(path, body);
  return path;
}

describe('validatePackageFile', () => {
  test('a good zip and a good tar.gz (single top folder) report name, version and form; temp is cleaned', async () => {
    const zip = await file('a.zip', await yazlZip([{ name: 'HandlerManifest.json', data: manifestText('Contoso.A', '1.2.3') }]));
    assert.deepEqual(await validatePackageFile(zip), { name: 'Contoso.A', version: '1.2.3', form: 'command' });
    const tgz = await file('b.tar.gz', rawTarGz([
      { path: 'top/', type: 'Directory' },
      { path: 'top/HandlerManifest.json', body: '[{"name": "du", "version": 1.0, "handlerManifest": {"protocol": "script", "scriptFileName": "h.sh"}}]' },
      { path: 'top/h.sh', body: '#!/bin/sh\n' },
    ]));
    assert.deepEqual(await validatePackageFile(tgz), { name: 'du', version: '1.0', form: 'script' });
    assert.deepEqual(await leftovers(), []);
  });

  test('an escaping entry is reported with the file and entry; temp is cleaned', async () => {
    const zip = await file('evil.zip', rawZip([{ name: 'HandlerManifest.json', data: manifestText() }, { name: '../../evil', data: 'x' }]));
    await assert.rejects(validatePackageFile(zip), (err: unknown) => {
      assert.ok(err instanceof SupervisorError);
      assert.equal(err.code, 'E_PACKAGE_ESCAPE');
      assert.ok(err.message.startsWith(`${zip}: entry "../../evil"`), err.message);
      return true;
    });
    assert.deepEqual(await leftovers(), []);
  });

  test('missing and malformed manifests, non-archives and missing files', async () => {
    const none = await file('none.zip', await yazlZip([{ name: 'x.sh', data: '' }]));
    await assert.rejects(validatePackageFile(none), (err: SupervisorError) => err.code === 'E_PACKAGE_MANIFEST' && err.message.startsWith(none));
    const bad = await file('bad.zip', await yazlZip([{ name: 'HandlerManifest.json', data: '[{"version": "x"}]' }]));
    await assert.rejects(validatePackageFile(bad), (err: SupervisorError) =>
      err.code === 'E_PACKAGE_MANIFEST' && /bad\.zip!HandlerManifest\.json: \[0\]\.version/.test(err.message));
    const text = await file('text.zip', Buffer.from('just text'));
    await assert.rejects(validatePackageFile(text), (err: SupervisorError) => err.code === 'E_PACKAGE_FORMAT');
    await assert.rejects(validatePackageFile(join(base, 'absent.zip')), (err: SupervisorError) =>
      err.code === 'E_PACKAGE_FORMAT' && /absent\.zip: cannot read the package/.test(err.message));
    assert.deepEqual(await leftovers(), []);
  });

  test('the size caps apply as on install', async () => {
    const zip = await file('big.zip', await yazlZip([{ name: 'HandlerManifest.json', data: manifestText() }]));
    await assert.rejects(validatePackageFile(zip, { maxDownloadBytes: 10 }), (err: SupervisorError) => err.code === 'E_PACKAGE_TOO_LARGE');
  });
});
