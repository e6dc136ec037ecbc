/**
 * Waiting on a shared AbortSignal without Node's EventTarget cost. EventTarget keeps its
 * listeners in a list and scans it on every addEventListener (for a duplicate) and every
 * removeEventListener, so each is O(listeners). A fleet's signal is waited on by every handler
 * actor, every gate waiter, every package task and every running command at once: at 5000
 * handlers those scans were 10 % of the daemon's main thread while it brought the fleet up
 * (`--cpu-prof`, 2026-12-05; docs/decisions.md, "Waiting on the fleet's signal"). Here each signal
 * gets one EventTarget listener, and the waiters sit in a Set: adding and removing are O(1).
 */

const waiters = new WeakMap<AbortSignal, Set<() => void>>();

/**
 * Calls `fn` once when `signal` aborts, or at once if it already has. Returns a function that
 * stops the wait (idempotent; after the abort it does nothing). A throwing `fn` does not stop the
 * others: its error is rethrown on its own, as an EventTarget listener's would be.
 */
export function onAbort(signal: AbortSignal, fn: () => void): () => void {
  if (signal.aborted) {
    fn();
    return () => {};
  }
  let set = waiters.get(signal);
  if (set === undefined) {
    const mine = new Set<() => void>();
    waiters.set(signal, mine);
    signal.addEventListener('abort', () => {
      waiters.delete(signal);
      for (const call of [...mine]) {
        try {
          call();
        } catch (err) {
          process.nextTick(() => { throw err; });
        }
      }
      mine.clear();
    }, { once: true });
    set = mine;
  }
  const waiting = set;
  const call = (): void => { waiting.delete(call); fn(); };
  waiting.add(call);
  return () => { waiting.delete(call); };
}

/** How many waits are registered on `signal` (tests check that they are removed). */
export function abortWaiters(signal: AbortSignal): number {
  return waiters.get(signal)?.size ?? 0;
}
