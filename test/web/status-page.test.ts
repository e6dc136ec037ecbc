/**
 * The status page in a real browser (Debian's Chromium, headless, through puppeteer-core) against
 * a real daemon (`supervisor run --http-listen`): the table fills from /events, a handler goes from
 * Ready to Unresponsive without a reload, the filter, sorting, the counts, the detail view (by
 * click, by keyboard, by link), a screenshot. Every wait is on the DOM, with a generous deadline.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Workspace, handlerEntry } from '../helpers/handlers.js';
import { killLeftovers } from '../helpers/fleet.js';
import { runCli } from '../helpers/cli.js';
import { dirFlags, type RunningDaemon } from '../helpers/daemon.js';
import { launchBrowser, markedProcesses, pngSize, type TestBrowser } from '../helpers/browser.js';
import { FAIL_INSTALL, SERVE_WITH_STATUS, beatUntil, rowNames, startPageDaemon, waitRowNames, waitRowStatus } from '../helpers/status-page.js';
import { closePackagePool } from '../../src/supervisor/packages/pool.js';

after(() => closePackagePool());

// Runs in the page (see test/helpers/status-page.ts).
declare const document: any; // eslint-disable-line @typescript-eslint/no-explicit-any
declare const window: any; // eslint-disable-line @typescript-eslint/no-explicit-any
declare const location: any; // eslint-disable-line @typescript-eslint/no-explicit-any
declare const getComputedStyle: any; // eslint-disable-line @typescript-eslint/no-explicit-any

const VIEW = { width: 1280, height: 800 };

describe('status page in a real browser', () => {
  test('live table, Ready to Unresponsive without a reload, filter, sort, counts, detail view, screenshot', async () => {
    const ws = await Workspace.create('exts-web-');
    const stopBeat = join(ws.root, 'stop-heartbeat');
    let daemon: RunningDaemon | undefined;
    let tb: TestBrowser | undefined;
    const problems: string[] = [];
    try {
      const pkgs = {
        ok: await ws.package({ name: 'P.Ok', version: '1.0', behavior: { enable: SERVE_WITH_STATUS } }),
        fail: await ws.package({ name: 'P.Fail', version: '1.0', behavior: { install: FAIL_INSTALL } }),
        beat: await ws.package({ name: 'P.Beat', version: '2.1', manifest: { reportHeartbeat: true }, behavior: { enable: beatUntil(stopBeat) } }),
      };
      const goal = await ws.goalState({ etag: 'one', handlers: [
        handlerEntry('P.Ok', [pkgs.ok]),
        handlerEntry('P.Fail', [pkgs.fail]),
        handlerEntry('P.Beat', [pkgs.beat], { heartbeatTimeout: 2, onUnresponsive: 'report' }),
      ] });
      const started = await startPageDaemon(ws, goal);
      daemon = started.daemon;
      const { base } = started;

      tb = await launchBrowser(VIEW);
      const page = await tb.browser.newPage();
      // Any script error or CSP violation (an inline style or script) shows here: there must be none.
      page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warn') problems.push(`console ${m.type()}: ${m.text()}`); });
      page.on('pageerror', (e) => problems.push(`page error: ${String(e)}`));
      page.on('requestfailed', (r) => { if (!r.url().endsWith('/events')) problems.push(`request failed: ${r.url()}`); });
      const res = await page.goto(base, { waitUntil: 'load', timeout: 120_000 });
      assert.equal(res?.status(), 200);
      await page.waitForFunction(() => document.body.dataset.conn === 'live', { timeout: 60_000 });
      await page.evaluate(() => { window.notReloaded = true; });

      // The fleet settles while the page watches: every row arrives by events, not by a reload.
      await waitRowNames(page, ['P.Beat', 'P.Fail', 'P.Ok'], 'all three handlers listed, sorted by name');
      await waitRowStatus(page, 'P.Ok', 'Ready');
      await waitRowStatus(page, 'P.Fail', 'Failed');
      await waitRowStatus(page, 'P.Beat', 'Ready');
      const cell = (name: string, key: string): Promise<string> =>
        page.$eval(`#rows tr.row[data-name="${name}"] td.${key}`, (td: any) => td.textContent as string);
      assert.equal(await cell('P.Beat', 'version'), '2.1');
      assert.equal(await cell('P.Ok', 'state'), 'Enabled');
      assert.match(await cell('P.Ok', 'pids'), /^\d+/, 'the service process is listed');
      assert.match(await cell('P.Fail', 'message'), /install failed with exit code 4/);
      assert.equal(await cell('P.Fail', 'lastop'), 'install:failed');
      assert.equal(await page.$eval('#rows tr.row[data-name="P.Fail"] td.status', (td: any) => td.className), 'status st-Failed', 'status in colour');
      assert.notEqual(await page.$eval('#rows tr.row[data-name="P.Fail"] td.status', (td: any) => getComputedStyle(td).color),
        await page.$eval('#rows tr.row[data-name="P.Ok"] td.status', (td: any) => getComputedStyle(td).color), 'Failed and Ready differ in colour');

      // The heartbeat stops: the row turns Unresponsive in place, and the counts follow.
      await writeFile(stopBeat, '');
      await waitRowStatus(page, 'P.Beat', 'Unresponsive');
      assert.equal(await page.evaluate(() => window.notReloaded === true), true, 'the page was not reloaded');
      assert.ok(await page.evaluate(() => window.statusPage.events as number) >= 1, 'changes came as events');
      await page.waitForFunction(() => document.querySelector('[data-count="Unresponsive"]').textContent === '1', { timeout: 60_000 });
      const counts = await page.$$eval('[data-count]', (els) => Object.fromEntries(els.map((e: any) => [e.dataset.count, e.textContent])));
      assert.deepEqual(counts, { total: '3', Ready: '1', Failed: '1', Unresponsive: '1', transitioning: '0' });
      assert.match(await cell('P.Beat', 'message'), /^no heartbeat (since|for) .*timeout 2 s/);

      // Filter: by status, by a word, negated, by a count button; then cleared.
      const filter = async (text: string): Promise<void> => {
        await page.$eval('#filter', (i: any, t: string) => { i.value = t; i.dispatchEvent(new Event('input', { bubbles: true })); }, text);
      };
      await page.type('#filter', 'status:Failed');
      await waitRowNames(page, ['P.Fail'], 'status:Failed');
      assert.equal(await page.$eval('#shown', (e: any) => e.textContent), '1 of 3 shown');
      await filter('disk full');
      await waitRowNames(page, ['P.Fail'], 'a word of the message');
      await filter('-status:Ready');
      await waitRowNames(page, ['P.Beat', 'P.Fail'], 'negated');
      await filter('name:nothing-like-this');
      await waitRowNames(page, [], 'no match');
      assert.equal(await page.$eval('#empty', (e: any) => e.hidden ? '' : e.textContent), 'No handler matches the filter.');
      await page.click('button[data-filter="status:Unresponsive"]');
      await waitRowNames(page, ['P.Beat'], 'the Unresponsive count');
      await filter('');
      await waitRowNames(page, ['P.Beat', 'P.Fail', 'P.Ok'], 'cleared');

      // Sort: by status (worst first), then reversed; the header says which.
      await page.click('th[data-key="status"] button');
      await waitRowNames(page, ['P.Fail', 'P.Beat', 'P.Ok'], 'sorted by status');
      assert.equal(await page.$eval('th[data-key="status"]', (th: any) => th.getAttribute('aria-sort')), 'ascending');
      await page.click('th[data-key="status"] button');
      await waitRowNames(page, ['P.Ok', 'P.Beat', 'P.Fail'], 'sorted by status, reversed');
      assert.equal(await page.$eval('th[data-key="status"]', (th: any) => th.getAttribute('aria-sort')), 'descending');
      await page.click('th[data-key="name"] button');
      await waitRowNames(page, ['P.Beat', 'P.Fail', 'P.Ok'], 'sorted by name again');

      // Detail by click: operations with results and the output's tail; linked by the URL hash.
      await page.click('#rows tr.row[data-name="P.Fail"]');
      await page.waitForSelector('#detail[data-loaded="P.Fail"]:not([hidden])', { timeout: 60_000 });
      assert.equal(await page.evaluate(() => location.hash), '#handler=P.Fail');
      assert.equal(await page.$eval('#detail-title', (e: any) => e.textContent), 'P.Fail 1.0');
      const ops = await page.$eval('#detail [data-section="operations"]', (e: any) => e.textContent as string);
      assert.match(ops, /install/);
      assert.match(ops, /failed/);
      assert.match(ops, /disk full/, "the stderr tail of the failed install");
      // Newest first, each operation's output right under its own row.
      const opRows = await page.$$eval('#detail [data-section="operations"] tbody tr', (trs) => trs.map((tr: any) => tr.textContent as string));
      const at = (re: RegExp): number => opRows.findIndex((t) => re.test(t));
      assert.ok(at(/^install1\.0failed4/) === 0 && /disk full/.test(opRows[1] ?? '') && at(/^fetch1\.0succeeded/) > 1,
        `operations newest first with their output under them: ${JSON.stringify(opRows)}`);
      assert.equal(await page.$eval('#detail [data-field="status"]', (e: any) => e.textContent), 'Failed');
      await page.keyboard.press('Escape');
      await page.waitForSelector('#detail', { hidden: true, timeout: 60_000 });
      assert.equal(await page.evaluate(() => location.hash), '');

      // Detail by keyboard: the row takes focus, Enter opens it; extension status with its substatus, processes, limits.
      await page.focus('#rows tr.row[data-name="P.Ok"]');
      await page.keyboard.press('Enter');
      await page.waitForSelector('#detail[data-loaded="P.Ok"]:not([hidden])', { timeout: 60_000 });
      const exts = await page.$eval('#detail [data-section="extensions"]', (e: any) => e.textContent as string);
      assert.match(exts, /default \(sequence 1\): success code 0: serving/);
      assert.match(await page.$eval('#detail .substatus', (e: any) => e.textContent as string), /^web: success code 0: listening on 8080$/);
      assert.match(await page.$eval('#detail [data-section="processes"]', (e: any) => e.textContent as string), /sleep/);
      assert.ok((await page.$eval('#detail [data-field="limits"]', (e: any) => e.textContent as string)).length > 0, 'limits shown');
      assert.ok((await page.$eval('#detail [data-field="isolation"]', (e: any) => e.textContent as string)).length > 0, 'isolation shown');
      await page.click('#detail-close');
      await page.waitForSelector('#detail', { hidden: true, timeout: 60_000 });

      // The screenshot: a PNG of the viewport's size.
      const png = await page.screenshot({ type: 'png' });
      assert.deepEqual(pngSize(png), VIEW);

      // A link to a handler opens its detail on load: the heartbeat's age and timeout.
      await page.goto(`${base}#handler=P.Beat`, { waitUntil: 'load', timeout: 120_000 });
      await page.waitForSelector('#detail[data-loaded="P.Beat"]:not([hidden])', { timeout: 60_000 });
      assert.match(await page.$eval('#detail [data-field="heartbeat"]', (e: any) => e.textContent as string), /^\d+s ago, timeout 2 s/);
      assert.match(await page.$eval('#detail [data-field="status"]', (e: any) => e.textContent as string), /^Unresponsive$/);
      assert.deepEqual(problems, [], 'no script errors or CSP violations in the page');
      // And the name of a handler that does not exist says so (its 404 is the one console error).
      await page.goto(`${base}#handler=No.Such`, { waitUntil: 'load', timeout: 120_000 });
      await page.waitForSelector('#detail[data-loaded="No.Such"]', { timeout: 60_000 });
      assert.equal(await page.$eval('#detail-body', (e: any) => e.textContent), 'No handler named "No.Such".');

      assert.deepEqual(await rowNames(page), ['P.Beat', 'P.Fail', 'P.Ok'], 'the table behind it');
    } finally {
      const left = tb ? await tb.close() : [];
      if (daemon) {
        await runCli(['stop', ...dirFlags(ws)]);
        await daemon.stop();
      }
      await killLeftovers(ws);
      await ws.dispose();
      assert.deepEqual(left, [], 'every browser process ended with the browser');
      if (tb) assert.deepEqual(markedProcesses(tb.mark), [], 'no browser process left in /proc');
    }
  });
});

