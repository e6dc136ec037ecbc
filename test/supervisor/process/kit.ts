// Shared helpers for the process-runner tests: unique marks, temp dirs, and proof of cleanup by /proc.
import { randomBytes } from 'node:crypto';
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scanProcesses } from '../../../src/supervisor/process/attribution.js';
import type { ScannedProc } from '../../../src/supervisor/process/attribution.js';
import { signalIfSame, defaultSendSignal } from '../../../src/supervisor/process/signal.js';
import { endLibGroups } from '../../helpers/cgroups.js';
import { systemClock, type Clock, type TimerId } from '../../../src/core/clock.js';

/** A libId no other test uses, so parallel tests never see each other's processes. */
export function uniqueLibId(): string {
  return randomBytes(6).toString('hex');
}

/** A fresh real temp dir (symlinks resolved, so `pwd` output compares equal). */
export async function makeTempDir(prefix = 'ext-sup-proc-'): Promise<string> {
  return realpath(await mkdtemp(join(tmpdir(), prefix)));
}

/** Removes a temp dir made by makeTempDir, whatever is in it. */
export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** Live (non-zombie) processes carrying this lib dir's mark, read straight from /proc. */
export async function liveMarked(libId: string): Promise<ScannedProc[]> {
  return (await scanProcesses()).procs.filter((p) => p.mark?.libId === libId);
}

/** SIGKILLs everything still marked with libId, and removes its cgroups: every test ends every process and group it made. */
export async function killAllMarked(libId: string): Promise<void> {
  for (let round = 0; round < 5; round += 1) {
    const left = await liveMarked(libId);
    if (left.length === 0) break;
    for (const p of left) signalIfSame(defaultSendSignal, p, 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await endLibGroups(libId);
}

/** Polls until `check` returns a value other than undefined, or fails after timeoutMs (a deadline for a loaded machine, not a measurement). */
export async function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * The real clock, except that timers set before release() wait for it (then fire as soon as they
 * are due): commands' timeouts start counting only once the test has seen every command ready.
 */
export class HeldClock implements Clock {
  #held: Map<object, { fn: () => void; deadline: number }> | null = new Map();
  readonly #released = new Map<object, TimerId>();
  now(): number { return systemClock.now(); }
  setTimeout(fn: () => void, ms: number): TimerId {
    if (this.#held === null) return systemClock.setTimeout(fn, ms);
    const id = {};
    this.#held.set(id, { fn, deadline: this.now() + ms });
    return id as TimerId;
  }
  clearTimeout(id: TimerId): void {
    if (this.#held?.delete(id)) return;
    const real = this.#released.get(id);
    systemClock.clearTimeout(real ?? id);
  }
  release(): void {
    const held = this.#held ?? new Map();
    this.#held = null;
    for (const [id, t] of held) this.#released.set(id, systemClock.setTimeout(t.fn, t.deadline - this.now()));
  }
}
