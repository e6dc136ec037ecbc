import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { boundOutputs } from '../../../src/supervisor/logging/output-bounds.js';
import { runCommand } from '../../../src/supervisor/process/run-command.js';
import { terminateHandler } from '../../../src/supervisor/process/terminate.js';
import { uniqueLibId, waitFor } from '../process/kit.js';

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
    // Unique: a fixed id let a second `npm test` beside this one end this test's writer in its cleanup.
    const libId = uniqueLibId();
    try {
      const running = await runCommand({ libId, handler: 'Writer', operation: 'enable', cwd: dir, env: {}, timeoutMs: 10_000, graceMs: 200,
        // 200 x's made once: the old per-line `head | tr` wrote NULs that the shell dropped, ~10 bytes a line, so 30 kB took minutes.
        command: { shell: `( pad=$(printf '%200s' '' | tr ' ' x); i=0; while :; do i=$((i+1)); echo "tick $i $pad"; sleep 0.01; done ) &` },
        stdoutFile: join(dir, 'enable.stdout'), stderrFile: join(dir, 'enable.stderr') });
      assert.equal((await running.done).exitCode, 0);
      const sizeOf = async (): Promise<number> => (await stat(join(dir, 'enable.stdout'))).size;
      await waitFor('30 kB of output', async () => ((await sizeOf()) >= 30_000 ? true : undefined), 60_000);
      await boundOutputs(dir, 20_000, 1000);
      const cutTo = await sizeOf();
      // The writer goes on: wait for its next lines rather than for a stretch of time.
      const size = await waitFor('more output after the cut', async () => { const n = await sizeOf(); return n > cutTo + 1000 ? n : undefined; }, 60_000);
      assert.ok(size < 30_000, `the file shrank and grows from its new end (size ${size})`);
      const text = await readFile(join(dir, 'enable.stdout'), 'utf8');
      assert.ok(!text.includes('\0'), 'no hole of NUL bytes');
    } finally {
      await terminateHandler({ libId, handler: 'Writer', graceMs: 200, reason: 'cleanup' });
      await rm(dir, { recursive: true, force: true });
    }
  });
});
