import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { boundOutputs } from '../../../src/supervisor/logging/output-bounds.js';
import { runCommand } from '../../../src/supervisor/process/run-command.js';
import { terminateHandler } from '../../../src/supervisor/process/terminate.js';

describe('boundOutputs', () => {
  test('cuts files over the cap to their last part with a note; leaves small files and other files alone', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'exts-out-'));
    try {
      const big = Array.from({ length: 5000 }, (_, i) => `line ${i}`).join('\n') + '\n';
      await writeFile(join(dir, 'enable.stdout'), big);
      await writeFile(join(dir, 'install.stderr'), 'small\n');
      await writeFile(join(dir, 'enable.exit'), '0\n'.repeat(10_000));
      const cut = await boundOutputs(dir, 10_000, 2000);
      assert.deepEqual(cut, [join(dir, 'enable.stdout')]);
      const text = await readFile(join(dir, 'enable.stdout'), 'utf8');
      assert.match(text, /^\[ext-supervisor: \d+ earlier bytes cut; this file is kept under 10000 bytes\]\n/);
      assert.ok(text.endsWith('line 4999\n'));
      assert.ok(text.length < 2200);
      assert.match(text.split('\n')[1]!, /^line \d+$/, 'the kept part starts at a line boundary');
      assert.equal(await readFile(join(dir, 'install.stderr'), 'utf8'), 'small\n');
      assert.equal((await stat(join(dir, 'enable.exit'))).size, 20_000);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a daemon still writing the file goes on at the new end (O_APPEND: no hole the size of what was cut)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'exts-out-'));
    const libId = 'b0b0b0b0b0b0';
    try {
      const running = await runCommand({ libId, handler: 'Writer', operation: 'enable', cwd: dir, env: {}, timeoutMs: 10_000, graceMs: 200,
        command: { shell: `( i=0; while :; do i=$((i+1)); echo "tick $i $(head -c 200 /dev/zero | tr '\\\\0' x)"; sleep 0.01; done ) &` },
        stdoutFile: join(dir, 'enable.stdout'), stderrFile: join(dir, 'enable.stderr') });
      assert.equal((await running.done).exitCode, 0);
      while ((await stat(join(dir, 'enable.stdout'))).size < 30_000) await new Promise((r) => setTimeout(r, 20));
      await boundOutputs(dir, 20_000, 1000);
      await new Promise((r) => setTimeout(r, 200));
      const size = (await stat(join(dir, 'enable.stdout'))).size;
      assert.ok(size < 30_000, `the file shrank and grows from its new end (size ${size})`);
      const text = await readFile(join(dir, 'enable.stdout'), 'utf8');
      assert.ok(!text.includes('\0'), 'no hole of NUL bytes');
    } finally {
      await terminateHandler({ libId, handler: 'Writer', graceMs: 200, reason: 'cleanup' });
      await rm(dir, { recursive: true, force: true });
    }
  });
});
