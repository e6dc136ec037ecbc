import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { abortWaiters, onAbort } from '../../src/core/abort.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('onAbort', () => {
  test('each wait is called once on abort, in order; a stopped wait is not; the signal keeps one listener', () => {
    const c = new AbortController();
    const calls: number[] = [];
    const stops = Array.from({ length: 5000 }, (_, i) => onAbort(c.signal, () => calls.push(i)));
    assert.equal(abortWaiters(c.signal), 5000);
    for (let i = 0; i < 5000; i += 2) stops[i]!();
    stops[0]!(); // idempotent
    assert.equal(abortWaiters(c.signal), 2500);
    c.abort();
    c.abort();
    assert.deepEqual(calls, Array.from({ length: 2500 }, (_, i) => 2 * i + 1));
    assert.equal(abortWaiters(c.signal), 0);
    stops[1]!(); // after the abort: nothing to do
  });

  test('an already aborted signal calls at once; a throwing wait does not stop the others and is rethrown on its own', () => {
    const done = new AbortController();
    done.abort();
    let now = 0;
    onAbort(done.signal, () => { now += 1; });
    assert.equal(now, 1);
    assert.equal(abortWaiters(done.signal), 0);

    // In a process of its own: the rethrown error is that process's uncaught exception.
    const script = "import { onAbort } from './src/core/abort.ts'; const c = new AbortController(); "
      + "onAbort(c.signal, () => { throw new Error('boom'); }); onAbort(c.signal, () => console.log('after')); c.abort(); console.log('abort returned');";
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.stdout, 'after\nabort returned\n');
    assert.match(r.stderr, /Error: boom/);
    assert.equal(r.status, 1);
  });
});
