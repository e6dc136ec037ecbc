import { afterEach, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandLog, commandLogPath } from '../../../src/supervisor/logging/command-log.js';

let dir = '';
beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'command-log-')); });
afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

test('a burst of appends lands whole and in order, per handler', async () => {
  const errors: unknown[] = [];
  const log = new CommandLog({ logDir: dir }, (e) => errors.push(e));
  for (let i = 0; i < 300; i++) void log.append(`H${i % 3}`, `line ${i}\n`);
  await log.idle();
  assert.deepEqual(errors, []);
  for (let h = 0; h < 3; h++) {
    const lines = (await readFile(commandLogPath(dir, `H${h}`), 'utf8')).trimEnd().split('\n');
    assert.deepEqual(lines, Array.from({ length: 100 }, (_, k) => `line ${k * 3 + h}`));
  }
  assert.equal((await stat(commandLogPath(dir, 'H0'))).mode & 0o777, 0o600);
});

test('rotates by size, keeping a fixed number of old files, counting what it wrote itself', async () => {
  const log = new CommandLog({ logDir: dir, maxBytes: 100, keep: 2 });
  for (let i = 0; i < 12; i++) await log.append('R', `${String(i).padStart(2, '0')} ${'x'.repeat(36)}\n`); // 40 bytes a line
  const files = (await readdir(join(dir, 'R'))).sort();
  assert.deepEqual(files, ['CommandExecution.log', 'CommandExecution.log.1', 'CommandExecution.log.2']);
  const live = await readFile(commandLogPath(dir, 'R'), 'utf8');
  assert.ok(live.length <= 100, `live file ${live.length} bytes`);
  assert.match(live, /^1[01] /m);
  assert.ok(live.endsWith(`11 ${'x'.repeat(36)}\n`));
});

test('a handler log folder removed by hand is made again', async () => {
  const errors: unknown[] = [];
  const log = new CommandLog({ logDir: dir }, (e) => errors.push(e));
  await log.append('Gone', 'first\n');
  await rm(join(dir, 'Gone'), { recursive: true });
  await log.append('Gone', 'second\n');
  assert.deepEqual(errors, []);
  assert.equal(await readFile(commandLogPath(dir, 'Gone'), 'utf8'), 'second\n');
});
