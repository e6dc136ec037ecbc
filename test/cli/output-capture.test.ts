import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Workspace, handlerEntry } from '../helpers/handlers.js';
import { killLeftovers, liveProcesses } from '../helpers/fleet.js';
import { startDaemon, waitFor } from '../helpers/daemon.js';
import { handlerPaths } from '../../src/storage/layout.js';
import { closePackagePool } from '../../src/supervisor/packages/pool.js';

after(() => closePackagePool());

const BOUND = 1024 * 1024;
const KEEP = 3;
const LINES = 1_000_000; // 100 bytes each: 100 MB

function sizeOf(file: string): number {
  try { return statSync(file).size; } catch { return 0; }
}

describe('captured output: bounded as it is written', () => {
  test('a daemon started by enable writes 100 MB: its file never exceeds the bound, the last lines are in the rotated files, in order', async () => {
    const ws = await Workspace.create('exts-output-');
    let daemon;
    try {
      const pkg = await ws.package({ name: 'O.Chatty', version: '1.0', behavior: {
        // Left running by enable, as a service is: it writes after the command has ended.
        enable: `( awk 'BEGIN { pad = sprintf("%86s", ""); gsub(/ /, "x", pad); for (i = 1; i <= ${LINES}; i++) printf "line %07d %s\\n", i, pad }'; `
          + 'echo written > "$here/writer.done" ) &',
      } });
      const goal = await ws.goalState({ etag: 'one', handlers: [handlerEntry('O.Chatty', [pkg])] });
      daemon = await startDaemon(ws, goal, ['--output-max', String(BOUND), '--output-keep', String(KEEP)]);
      const { dir, outputFolder } = handlerPaths(ws.dirs, 'O.Chatty', '1.0');
      const file = join(outputFolder, 'enable.stdout');
      const files = [file, ...Array.from({ length: KEEP }, (_, i) => `${file}.${i + 1}`)];
      let samples = 0;
      let largest = 0;
      let seenRotated = false;
      // Sampled while the writer writes; counted, not timed.
      await waitFor(() => {
        for (const f of files) largest = Math.max(largest, sizeOf(f));
        if (sizeOf(`${file}.1`) > 0) seenRotated = true;
        samples++;
        return existsSync(join(dir, 'writer.done'));
      }, 120_000, 'the writer to finish');
      await waitFor(() => readFileSync(file, 'utf8').endsWith(`line ${String(LINES).padStart(7, '0')} ${'x'.repeat(86)}\n`), 60_000, 'the last line drained');
      for (const f of files) largest = Math.max(largest, sizeOf(f));
      assert.ok(samples >= 2 && seenRotated, `sampled ${samples} times while writing, saw a rotation`);
      assert.ok(largest <= BOUND, `no file ever above ${BOUND} bytes (largest seen: ${largest})`);

      const text = files.slice().reverse().map((f) => readFileSync(f, 'utf8')).join('');
      const numbers = text.split('\n').filter(Boolean).map((l) => Number(/^line (\d{7}) x{86}$/.exec(l)?.[1] ?? NaN));
      assert.equal(numbers.at(-1), LINES, 'ends with the last line');
      assert.ok(numbers.length > KEEP * (BOUND / 100) * 0.9, `the rotated files hold the lines cut from the file (${numbers.length} lines)`);
      numbers.forEach((n, i) => { if (i > 0) assert.equal(n, numbers[i - 1]! + 1, `line ${i} follows on, whole`); });
      for (const f of files.slice(1)) assert.ok(sizeOf(f) > BOUND - 200, `${f} was full when it was rotated`);
    } finally {
      await daemon?.stop();
      await killLeftovers(ws);
      await waitFor(async () => (await liveProcesses(ws)).size === 0, 30_000, 'no handler process left');
      await ws.dispose();
    }
  });
});
