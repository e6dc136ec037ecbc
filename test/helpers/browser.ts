/**
 * A real headless Chromium (Debian's package) driven by puppeteer-core, for the status page's
 * tests, its screenshot script and its bench. Every process the browser starts carries a mark in
 * its environment (`EXT_SUPERVISOR_TEST_BROWSER=<random>`), inherited by its zygotes, renderers
 * and helpers, so closing can prove through /proc that none is left, whatever re-parented itself.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import puppeteer, { type Browser } from 'puppeteer-core';
import { findEnvVar, isGone, listPids, readProcFile, readProcStat } from '../../src/supervisor/process/proc.js';

export const BROWSER_MARK = 'EXT_SUPERVISOR_TEST_BROWSER';
const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/lib/chromium/chromium'];

/** The Chromium binary: $CHROMIUM_PATH, else Debian's /usr/bin/chromium. Throws, naming what to install. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env['CHROMIUM_PATH'];
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`CHROMIUM_PATH=${fromEnv}: no such file`);
    return fromEnv;
  }
  const found = CANDIDATES.find((p) => existsSync(p));
  if (!found) throw new Error(`no Chromium found (looked at ${CANDIDATES.join(', ')}): apt-get install -y chromium, or set CHROMIUM_PATH`);
  return found;
}

export interface TestBrowser {
  readonly browser: Browser;
  readonly mark: string;
  /** Closes the browser and returns the marked processes still alive after it (SIGKILLed, then waited for). */
  close(): Promise<number[]>;
}

/** Live (non-zombie) processes whose environment carries `mark`. */
export function markedProcesses(mark: string): number[] {
  const out: number[] = [];
  for (const pid of listPids()) {
    if (pid === process.pid) continue;
    const environ = readProcFile(`/proc/${pid}/environ`);
    if (environ === null || findEnvVar(environ, BROWSER_MARK) !== mark) continue;
    const stat = readProcStat(pid);
    if (stat !== null && !isGone(stat.state)) out.push(pid);
  }
  return out;
}

export async function launchBrowser(opts: { width?: number; height?: number } = {}): Promise<TestBrowser> {
  const mark = randomBytes(8).toString('hex');
  const profile = await mkdtemp(join(tmpdir(), 'exts-chromium-'));
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const browser = await puppeteer.launch({
    executablePath: findChromium(),
    headless: true,
    userDataDir: profile,
    // Chromium refuses to run as root with its sandbox; tests here run as root in a VM.
    args: [...(root ? ['--no-sandbox'] : []), '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--no-default-browser-check',
      '--disable-crash-reporter', '--disable-breakpad', `--window-size=${opts.width ?? 1280},${opts.height ?? 800}`],
    defaultViewport: { width: opts.width ?? 1280, height: opts.height ?? 800 },
    env: { ...process.env, [BROWSER_MARK]: mark },
    // A loaded 2-core machine can take a while to start a browser.
    timeout: 120_000,
    protocolTimeout: 180_000,
  });
  return {
    browser, mark,
    async close() {
      try { await browser.close(); } catch { /* already gone */ }
      // Whatever is still alive was not ended by the browser: report it, then end it.
      const until = Date.now() + 30_000;
      let left = markedProcesses(mark);
      while (left.length > 0 && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 100));
        left = markedProcesses(mark);
      }
      for (const p of left) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
      await rm(profile, { recursive: true, force: true });
      return left;
    },
  };
}

/** PNG dimensions from the IHDR chunk, after checking the signature. */
export function pngSize(buf: Uint8Array): { width: number; height: number } {
  const b = Buffer.from(buf);
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (b.length < 24 || !b.subarray(0, 8).equals(sig) || b.toString('latin1', 12, 16) !== 'IHDR') throw new Error('not a PNG');
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

