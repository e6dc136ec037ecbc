#!/usr/bin/env node
// `npm run screenshot`: brings up a small example fleet under a real daemon with its status page
// (three Ready, one Failed, one Unresponsive, one transitioning), opens the page in headless
// Chromium (Debian's package, through puppeteer-core) and writes docs/status-page.png and
// docs/status-page-detail.png. Needs `npm run build` first (the npm script does it) and chromium.
// Run with tsx (the npm script does): it reuses the tests' helpers.
import { writeFile } from 'node:fs/promises';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Workspace, handlerEntry } from '../test/helpers/handlers.ts';
import { killLeftovers } from '../test/helpers/fleet.ts';
import { runCli } from '../test/helpers/cli.ts';
import { dirFlags } from '../test/helpers/daemon.ts';
import { launchBrowser, pngSize } from '../test/helpers/browser.ts';
import { FAIL_INSTALL, SERVE_WITH_STATUS, beatUntil, startPageDaemon, waitRowStatus } from '../test/helpers/status-page.ts';
import { closePackagePool } from '../src/supervisor/packages/pool.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const VIEW = { width: 1280, height: 460 };
const ws = await Workspace.create('exts-screenshot-');
const stopBeat = join(ws.root, 'stop-heartbeat');
const stopAll = join(ws.root, 'stop-all-heartbeats');
let daemon;
let tb;
try {
  const pkg = (name, version, behavior, manifest) => ws.package({ name, version, behavior, ...(manifest ? { manifest } : {}) });
  const serve = { enable: `${SERVE_WITH_STATUS}\n${beatUntil(stopAll)}` };
  const beats = { reportHeartbeat: true };
  const fleet = [
    ['Contoso.Monitoring.Agent', '2.4.1', serve, beats],
    ['Contoso.Backup', '1.12.0', serve, beats],
    ['Fabrikam.LogShipper', '3.0.2', serve, beats],
    ['Contoso.Security.Scanner', '1.3.0', { install: FAIL_INSTALL }],
    ['Fabrikam.Metrics', '0.9.4', { enable: beatUntil(stopBeat) }, { reportHeartbeat: true }, { heartbeatTimeout: 2, onUnresponsive: 'report' }],
    // An enable that takes its time: the handler is transitioning while the shot is taken.
    ['Contoso.Patching', '5.1.0', { enable: 'sleep 600' }],
  ];
  const handlers = [];
  for (const [name, version, behavior, manifest, over] of fleet) handlers.push(handlerEntry(name, [await pkg(name, version, behavior, manifest)], over ?? {}));
  const goal = await ws.goalState({ etag: 'screenshot', handlers });
  const started = await startPageDaemon(ws, goal, ['--stop-grace', '1']);
  daemon = started.daemon;
  tb = await launchBrowser(VIEW);
  const page = await tb.browser.newPage();
  await page.goto(started.base, { waitUntil: 'load', timeout: 120_000 });
  for (const n of ['Contoso.Monitoring.Agent', 'Contoso.Backup', 'Fabrikam.LogShipper', 'Fabrikam.Metrics']) await waitRowStatus(page, n, 'Ready');
  await waitRowStatus(page, 'Contoso.Security.Scanner', 'Failed');
  await writeFile(stopBeat, '');
  await waitRowStatus(page, 'Fabrikam.Metrics', 'Unresponsive');
  await page.waitForFunction(() => document.querySelector('#rows tr.row[data-name="Contoso.Patching"] td.lastop')?.textContent === 'enable:running', { timeout: 90_000 });
  await page.waitForFunction(() => document.querySelector('[data-count="transitioning"]').textContent === '1', { timeout: 60_000 });
  const shots = [];
  const table = join(root, 'docs', 'status-page.png');
  await page.screenshot({ path: table, type: 'png' });
  shots.push(table);
  await page.setViewport({ width: 1280, height: 720 });
  await page.click('#rows tr.row[data-name="Contoso.Security.Scanner"]');
  await page.waitForSelector('#detail[data-loaded="Contoso.Security.Scanner"]', { timeout: 60_000 });
  const detail = join(root, 'docs', 'status-page-detail.png');
  await page.screenshot({ path: detail, type: 'png' });
  shots.push(detail);
  for (const f of shots) {
    const { readFile } = await import('node:fs/promises');
    const { width, height } = pngSize(await readFile(f));
    console.log(`${f.slice(root.length + 1)}: ${width}x${height}`);
  }
} finally {
  await writeFile(stopAll, '').catch(() => {});
  const left = tb ? await tb.close() : [];
  if (daemon) { await runCli(['stop', ...dirFlags(ws)]); await daemon.stop(); }
  await killLeftovers(ws);
  await ws.dispose();
  await closePackagePool();
  if (left.length) { console.error(`browser processes left (killed): ${left.join(' ')}`); process.exitCode = 1; }
}
