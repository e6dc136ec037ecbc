import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  STATUS_READ_LIMIT, nextReadDelay, readExtensionStatus, statusTargets,
} from '../../../src/supervisor/monitor/status-collector.js';
import { SupervisorError } from '../../../src/core/errors.js';
import { MAX_STATUS_MESSAGE_LENGTH, TRUNCATED_SUFFIX } from '../../../src/protocol/status-file.js';
import type { WatchSpec } from '../../../src/supervisor/monitor/types.js';
import { SAMPLES_DIR } from '../../helpers/samples.js';

const STATUS_SAMPLES = join(SAMPLES_DIR, 'azure-agent/status');

function spec(over: Partial<WatchSpec>): WatchSpec {
  return {
    name: 'Contoso.Monitor', version: '1.2', form: 'command', dir: '/lib/Contoso.Monitor-1.2', statusFolder: '/lib/Contoso.Monitor-1.2/status',
    heartbeatFile: '/lib/Contoso.Monitor-1.2/heartbeat.log', state: 'Enabled', reportHeartbeat: false, heartbeatTimeoutSec: 600,
    onUnresponsive: 'report', extensions: [], multiConfig: false, enabledAt: null, ...over,
  };
}

function statusDoc(status: unknown, code: unknown, message: string, substatus: unknown[] = []): string {
  return JSON.stringify([{ version: 1, timestampUTC: '2024-01-01T00:00:00Z',
    status: { name: 'x', operation: 'Enable', status, code, formattedMessage: { lang: 'en-US', message }, substatus } }]);
}

describe('statusTargets', () => {
  test('no extensions: the default extension and 0.status', () => {
    assert.deepEqual(statusTargets(spec({})), [{ extension: 'default', sequenceNumber: 0, file: '/lib/Contoso.Monitor-1.2/status/0.status' }]);
  });

  test('one file per extension: <seq>.status, or <ext>.<seq>.status when multiConfig', () => {
    const extensions = [{ name: 'a', sequenceNumber: 3 }, { name: 'b.x', sequenceNumber: 12 }];
    assert.deepEqual(statusTargets(spec({ extensions: [extensions[0]!] })).map((t) => t.file), ['/lib/Contoso.Monitor-1.2/status/3.status']);
    assert.deepEqual(statusTargets(spec({ extensions, multiConfig: true })), [
      { extension: 'a', sequenceNumber: 3, file: '/lib/Contoso.Monitor-1.2/status/a.3.status' },
      { extension: 'b.x', sequenceNumber: 12, file: '/lib/Contoso.Monitor-1.2/status/b.x.12.status' },
    ]);
  });

  test('paths are normalised so watcher events compare equal; an unsafe name is refused with a code', () => {
    assert.equal(statusTargets(spec({ statusFolder: '/lib/h//status/' }))[0]!.file, '/lib/h/status/0.status');
    assert.throws(() => statusTargets(spec({ extensions: [{ name: 'a..b', sequenceNumber: 1 }], multiConfig: true })),
      (e: unknown) => e instanceof SupervisorError && e.code === 'E_BAD_FILE_NAME' && e.message.includes('a..b'));
  });
});

describe('readExtensionStatus on real files', () => {
  let dir = '';
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'ext-sup-status-')); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  test('missing → transitioning, code 0', async () => {
    const s = await readExtensionStatus(join(dir, 'nope', '0.status'));
    assert.equal(s.status, 'transitioning');
    assert.equal(s.code, 0);
  });

  test('written: success, warning, error; unknown → error; code "0" → 0', async () => {
    const cases: [unknown, unknown, string, number][] = [
      ['success', 0, 'success', 0], ['Warning', 5, 'warning', 5], ['error', '7', 'error', 7], ['exploded', 0, 'error', 0], ['success', '0', 'success', 0],
    ];
    for (const [i, [status, code, want, wantCode]] of cases.entries()) {
      const file = join(dir, `${i}.status`);
      await writeFile(file, statusDoc(status, code, `m${i}`));
      const s = await readExtensionStatus(file);
      assert.deepEqual([s.status, s.code, s.message, s.truncated], [want, wantCode, `m${i}`, false], String(status));
    }
  });

  test('malformed → error 1012 naming the file and the start of the content', async () => {
    const file = join(dir, 'bad.status');
    await writeFile(file, '[{"status": {"status": "success", oops');
    const s = await readExtensionStatus(file);
    assert.equal(s.status, 'error');
    assert.equal(s.code, 1012);
    assert.match(s.message, /bad\.status/);
    assert.match(s.message, /content starts with: \[\{"status": \{"status": "success", oops/);
  });

  test('a 200 KiB status is truncated, not rejected', async () => {
    const file = join(dir, 'big.status');
    const subs = Array.from({ length: 40 }, (_, i) => ({ name: `s${i}`, status: 'success', code: 0, formattedMessage: { lang: 'en', message: 'y'.repeat(5000) } }));
    await writeFile(file, statusDoc('success', 0, 'x'.repeat(5000), subs));
    assert.ok((await readFile(file)).byteLength > 200 * 1024);
    const s = await readExtensionStatus(file);
    assert.equal(s.status, 'success');
    assert.equal(s.truncated, true);
    assert.equal(s.message, 'x'.repeat(MAX_STATUS_MESSAGE_LENGTH) + TRUNCATED_SUFFIX);
  });

  test('the agent samples: the 470 KB one is truncated, a missing status.status is 1012', async () => {
    const big = await readExtensionStatus(join(STATUS_SAMPLES, 'sample-status-very-large-multiple-substatuses.json'));
    assert.deepEqual([big.status, big.code, big.truncated], ['success', 1, true]);
    const noStatus = await readExtensionStatus(join(STATUS_SAMPLES, 'sample-status-invalid-status-no-status-status-key.json'));
    assert.deepEqual([noStatus.status, noStatus.code], ['error', 1012]);
  });

  test('over the read limit: the complete start is reported, truncated; a garbage start is 1012 saying so', async () => {
    const sample = join(STATUS_SAMPLES, 'sample-status-very-large-multiple-substatuses.json');
    const s = await readExtensionStatus(sample, { readLimit: 64 * 1024 });
    assert.deepEqual([s.status, s.code, s.truncated], ['success', 1, true]);
    assert.ok(s.substatus.length > 0 && s.substatus.length < 42);
    const garbage = join(dir, 'garbage.status');
    await writeFile(garbage, 'z'.repeat(3000));
    const g = await readExtensionStatus(garbage, { readLimit: 1000 });
    assert.deepEqual([g.status, g.code], ['error', 1012]);
    assert.match(g.message, /only the first 1000 of 3000 bytes were read/);
    assert.equal(STATUS_READ_LIMIT, 1024 * 1024);
  });

  test('a file of exactly the read limit is read whole', async () => {
    const file = join(dir, 'exact.status');
    const doc = statusDoc('warning', 2, 'w');
    await writeFile(file, doc);
    const s = await readExtensionStatus(file, { readLimit: Buffer.byteLength(doc) });
    assert.deepEqual([s.status, s.code, s.truncated], ['warning', 2, false]);
  });

  test('a directory or a FIFO in place of the file: error 1000, and the read never hangs', async () => {
    const sub = join(dir, 'adir.status');
    await mkdir(sub);
    const d = await readExtensionStatus(sub);
    assert.deepEqual([d.status, d.code], ['error', 1000]);
    assert.match(d.message, /not a regular file/);
    const fifo = join(dir, 'fifo.status');
    execFileSync('mkfifo', [fifo]);
    const f = await readExtensionStatus(fifo);
    assert.deepEqual([f.status, f.code], ['error', 1000]);
  });
});

describe('nextReadDelay', () => {
  test('a first change waits only the settle time', () => {
    assert.equal(nextReadDelay(10_000, -Infinity, 50, 500), 50);
  });

  test('a change soon after a read waits for the minimum interval', () => {
    assert.equal(nextReadDelay(10_100, 10_000, 50, 500), 400);
    assert.equal(nextReadDelay(10_480, 10_000, 50, 500), 50, 'never less than the settle time');
    assert.equal(nextReadDelay(20_000, 10_000, 50, 500), 50);
  });
});
