import { test, describe, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closePackagePool, extractInPool, hashInPool, workerFileUrl } from '../../../src/supervisor/packages/pool.js';
import { SupervisorError } from '../../../src/core/errors.js';
import { rawZip, sha256, walk } from '../../helpers/packages-archives.js';

let base: string;
const LIMITS = { maxEntries: 100, maxUncompressedBytes: 1024 * 1024 };

before(async () => { base = await mkdtemp(join(tmpdir(), 'pkg-pool-')); });
after(async () => { await closePackagePool(); await rm(base, { recursive: true, force: true }); });

describe('package worker pool', () => {
  test('the worker file is the .ts sibling under tsx and the .js sibling in dist/', () => {
    assert.equal(workerFileUrl('file:///app/src/supervisor/packages/pool.ts').href, 'file:///app/src/supervisor/packages/worker.ts');
    assert.equal(workerFileUrl('file:///app/dist/supervisor/packages/pool.js').href, 'file:///app/dist/supervisor/packages/worker.js');
    assert.ok(workerFileUrl().href.endsWith('/src/supervisor/packages/worker.ts'));
  });

  test('a worker thread loads the TypeScript worker under tsx and hashes a file', async () => {
    const body = Buffer.from('some package bytes');
    const file = join(base, 'hash.bin');
    await writeFile(file, body);
    assert.deepEqual(await hashInPool(file), { sha256: sha256(body), bytes: body.length });
  });

  test('errors cross the thread boundary with their code and details', async () => {
    const file = join(base, 'slip.zip');
    await writeFile(file, rawZip([{ name: '../evil', data: 'x' }]));
    const dest = join(base, 'out-slip');
    await mkdir(dest);
    await assert.rejects(extractInPool(file, dest, LIMITS), (err: unknown) => {
      assert.ok(err instanceof SupervisorError);
      assert.equal(err.code, 'E_PACKAGE_ESCAPE');
      assert.equal(err.details['entry'], '../evil');
      return true;
    });
    assert.deepEqual(await walk(dest), []);
  });

  test('an abort reaches the worker through the shared flag, and a pre-aborted signal never starts', async () => {
    const file = join(base, 'big.bin');
    await writeFile(file, Buffer.alloc(8 * 1024 * 1024));
    const ac = new AbortController();
    const running = hashInPool(file, ac.signal);
    ac.abort();
    await assert.rejects(running, (err: SupervisorError) => err.code === 'E_PACKAGE_ABORTED');
    await assert.rejects(hashInPool(file, AbortSignal.abort()), /aborted before it started/);
  });

  test('closing the pool ends its threads; a later task makes a new pool', async () => {
    await closePackagePool();
    const file = join(base, 'again.bin');
    await writeFile(file, 'again');
    assert.equal((await hashInPool(file)).bytes, 5);
  });
});
