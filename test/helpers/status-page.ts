/**
 * A real daemon serving the status page (`supervisor run --http-listen 127.0.0.1:PORT`), and the
 * handler behaviours the page's test and screenshot use: Ready with an extension status and
 * substatus, a failed install, a heartbeat that stops when the test says so, an enable that runs on.
 */
import { createServer } from 'node:net';
import type { Page } from 'puppeteer-core';
import { startDaemon, waitFor, type RunningDaemon } from './daemon.js';
import type { Workspace } from './handlers.js';

/** A port nobody listens on now (the kernel's choice; released before the daemon binds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

export interface PageDaemon { readonly daemon: RunningDaemon; readonly base: string }

/** Starts the daemon with its HTTP server and waits until /healthz answers. */
export async function startPageDaemon(ws: Workspace, goal: string, extra: readonly string[] = []): Promise<PageDaemon> {
  const port = await freePort();
  const daemon = await startDaemon(ws, goal, ['--http-listen', `127.0.0.1:${port}`, ...extra]);
  const base = `http://127.0.0.1:${port}/`;
  try {
    await waitFor(async () => (await fetch(`${base}healthz`).then((r) => r.ok, () => false)), 60_000, `${base}healthz`);
  } catch (err) {
    await daemon.stop();
    throw err;
  }
  return { daemon, base };
}

/* eslint-disable @typescript-eslint/no-explicit-any */
// Functions passed to page.evaluate/waitForFunction run in the page: its globals, typed loosely
// here (this project's tsconfig has no DOM lib, and should not: src runs in Node).
declare const document: any;
declare const CSS: any;

const HEARTBEAT = '[{"version":"1.0","heartbeat":{"status":"ready","code":0,"formattedMessage":{"lang":"en-US","message":"beating"}}}]';

/** enable: a background loop rewrites heartbeat.log every 0.2 s until `stopFile` exists, then ends. */
export function beatUntil(stopFile: string): string {
  return `( while [ ! -f '${stopFile}' ]; do printf '%s' '${HEARTBEAT}' > "$here/heartbeat.log"; sleep 0.2; done ) >/dev/null 2>&1 &`;
}

/** enable: starts one long-lived service process (once) and writes a status file with a substatus. */
export const SERVE_WITH_STATUS = `if ! { [ -f "$here/svc.pid" ] && kill -0 "$(cat "$here/svc.pid")" 2>/dev/null; }; then sleep 300 >/dev/null 2>&1 & echo $! > "$here/svc.pid"; fi
printf '%s' '[{"version":1.0,"timestampUTC":"2026-01-01T00:00:00Z","status":{"name":"default","operation":"Enable","status":"success","code":0,"formattedMessage":{"lang":"en-US","message":"serving"},"substatus":[{"name":"web","status":"success","code":0,"formattedMessage":{"lang":"en-US","message":"listening on 8080"}}]}}]' > "$here/status/$ConfigSequenceNumber.status"`;

/** install: prints a line, complains on stderr and fails with 4. */
export const FAIL_INSTALL = 'echo "preparing"; echo "disk full" >&2; rc=4';

/** The names of the table's rows in the DOM, in order (the rows in view: all of them for a small fleet). */
export function rowNames(page: Page): Promise<string[]> {
  return page.$$eval('#rows tr.row', (trs) => trs.map((tr) => (tr as any).dataset['name'] ?? ''));
}

/** Waits (with a generous deadline) until the row names are exactly `want`, in that order. */
export async function waitRowNames(page: Page, want: readonly string[], what: string): Promise<void> {
  try {
    await page.waitForFunction((w: string) => JSON.stringify([...document.querySelectorAll('#rows tr.row')]
      .map((tr: any) => tr.dataset['name'])) === w, { timeout: 60_000, polling: 'mutation' }, JSON.stringify(want));
  } catch (err) {
    throw new Error(`${what}: rows ${JSON.stringify(await rowNames(page))}, wanted ${JSON.stringify(want)} (${(err as Error).message})`);
  }
}

/** Waits until the STATUS cell of `name` reads `status`. */
export async function waitRowStatus(page: Page, name: string, status: string, timeoutMs = 90_000): Promise<void> {
  await page.waitForFunction((n: string, s: string) => document.querySelector(`#rows tr.row[data-name="${CSS.escape(n)}"] td.status`)?.textContent === s,
    { timeout: timeoutMs, polling: 'mutation' }, name, status);
}
