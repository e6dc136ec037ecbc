/**
 * Handing an apply's memory back at once. An apply of 1000 handlers leaves ~60 MB of garbage in
 * the daemon's old generation, and V8's memory reducer returns it only after tens of seconds to
 * minutes of calm (the steady-state benchmark saw 203 MB fall to 153 MB over its 60 s window).
 * One full collection right after the apply returns it now: ~30-60 ms of pause once per apply,
 * when nothing is waiting (docs/decisions.md, "Daemon memory").
 */
import v8 from 'node:v8';
import vm from 'node:vm';

let collect: (() => void) | null | undefined;

/** V8's full collection without --expose-gc on the command line: exposed in one fresh context only. */
function fullCollection(): (() => void) | null {
  if (collect !== undefined) return collect;
  try {
    v8.setFlagsFromString('--expose-gc');
    const fn: unknown = vm.runInNewContext('gc');
    collect = typeof fn === 'function' ? (fn as () => void) : null;
  } catch {
    collect = null;
  } finally {
    // Later contexts (and handler code run in vm, if any) do not get `gc`.
    v8.setFlagsFromString('--no-expose-gc');
  }
  return collect;
}

/**
 * Runs one full garbage collection that also compacts every old-generation page; false when
 * this Node cannot (then V8's own schedule applies). A plain full collection frees objects but
 * compacts only pages V8 deems fragmented enough: after an apply of 1000 handlers the old space
 * kept ~38 MB of pages for ~27 MB of live objects. Compacting all of them hands the rest back
 * (docs/decisions.md, "Daemon memory, issue 20").
 */
export function releaseMemory(): boolean {
  const fn = fullCollection();
  if (!fn) return false;
  try {
    v8.setFlagsFromString('--compact-on-every-full-gc');
    fn();
  } finally {
    v8.setFlagsFromString('--no-compact-on-every-full-gc');
  }
  return true;
}
