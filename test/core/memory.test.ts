import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import { releaseMemory } from '../../src/core/memory.js';

test('releaseMemory runs a full collection that frees unreachable objects, and exposes no gc to other contexts', async () => {
  let garbage: object[] | null = Array.from({ length: 300_000 }, (_, i) => ({ i, s: `item ${i}` }));
  const ref = new WeakRef(garbage);
  garbage = null;
  // Let the allocating turn end, so no stack slot keeps the array alive.
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(releaseMemory(), true);
  assert.equal(ref.deref(), undefined, 'the unreachable array is gone after one call');
  assert.equal((globalThis as { gc?: unknown }).gc, undefined, 'gc is not on the global object');
  assert.equal(releaseMemory(), true, 'and can run again');
});

test('releaseMemory compacts: pages half emptied by scattered frees are handed back, which a plain full collection keeps', async () => {
  const oldSpace = (): number => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')!.space_size;
  // Survivors interleaved with garbage on every page: no page is empty, each is about half used.
  const kept: Array<{ i: number; s: string; a: number[] } | null> = [];
  for (let i = 0; i < 300_000; i++) {
    const o = { i, s: `item ${i}`, a: [i, i + 1] };
    if (i % 2 === 0) kept.push(o);
  }
  await new Promise((resolve) => setImmediate(resolve));
  releaseMemory();
  const full = oldSpace();
  for (let i = 0; i < kept.length; i += 2) kept[i] = null;
  await new Promise((resolve) => setImmediate(resolve));
  releaseMemory();
  const after = oldSpace();
  // ~150 000 survivors of ~100 B each: ~7 MB of a full heap freed, scattered over its pages.
  assert.ok(full - after > 3 * 1024 * 1024, `old space ${(full / 1048576).toFixed(1)} MB -> ${(after / 1048576).toFixed(1)} MB`);
  assert.equal(kept.filter((o) => o !== null).length, 75_000);
});
