/**
 * The status page at N = 1000 handlers, in headless Chromium (Debian's package, puppeteer-core)
 * against a real daemon (`supervisor run --http-listen`) with N trivial handlers, while they come up:
 * time from navigation to the table drawn from the /events snapshot, the cost of one frame while
 * scrolling through all N and while filtering, and how many rows are in the DOM. The page draws
 * only the rows in view (web/table.js); the floor is what drawing all N rows at once costs in the
 * same page (what a page without virtualisation pays per redraw), and fetch + parse of /api/ps.
 */
import { checkDeadline, newSection, type BenchContext, type Benchmark, type SectionOutput } from './context.js';
import { startDaemon, waitRows } from './daemon.js';
import { BenchWorkspace, goalState } from './fixtures.js';
import { median, max, round, ratio } from './stats.js';
import { launchBrowser } from '../test/helpers/browser.js';
import { freePort } from '../test/helpers/status-page.js';

const TITLE = '8. Status page: N handlers in headless Chromium';

// Functions given to page.evaluate run in the page (this tsconfig has no DOM lib). They must not
// declare named inner functions: tsx (esbuild keepNames) would wrap them in a __name() helper the
// page does not have.
declare const document: any; // eslint-disable-line @typescript-eslint/no-explicit-any
declare const window: any; // eslint-disable-line @typescript-eslint/no-explicit-any
declare const requestAnimationFrame: any; // eslint-disable-line @typescript-eslint/no-explicit-any

export const pageBench: Benchmark = {
  name: 'page',
  sections: [{ name: 'page', title: TITLE }],
  budgetMs: ({ quick }) => (quick ? 240_000 : 900_000),
  async run(ctx: BenchContext): Promise<SectionOutput[]> {
    const s = newSection('page', TITLE);
    const n = ctx.quick ? 100 : 1000;
    const loads = ctx.quick ? 3 : 5;
    const ws = await BenchWorkspace.create('page');
    ctx.cleanups.push(() => ws.dispose());
    ctx.libIds.add(ws.libId);
    const handlers = await ws.buildHandlers('trivial', n, { prefix: 'Page' });
    const goal = await ws.writeGoal(goalState(handlers, { etag: 'page' }));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}/`;
    const daemon = await startDaemon(ws, goal, { extraArgs: ['--concurrency', '16', '--install-concurrency', '16', '--http-listen', `127.0.0.1:${port}`], timeoutMs: 180_000 });
    ctx.cleanups.push(async () => { await daemon.stop(); });
    // Every handler has its row from the start (NotInstalled/Installing); the page is measured while
    // the fleet comes up, so rows events keep arriving (counted below) as they would on a busy host.
    await waitRows(daemon, (rows) => rows.length === n, 120_000, `${n} rows listed`);
    const readyAt = async (): Promise<number> => (await daemon.ps()).filter((r) => r.status === 'Ready').length;
    const readyBefore = await readyAt();
    const tb = await launchBrowser({ width: 1280, height: 800 });
    let left: number[] | null = null;
    ctx.cleanups.push(async () => { left ??= await tb.close(); });
    const page = await tb.browser.newPage();

    const loadMs: number[] = [];
    const snapshotToDrawnMs: number[] = [];
    const fetchParseMs: number[] = [];
    for (let i = 0; i < loads; i++) {
      checkDeadline(ctx, 'loading the page');
      await page.goto(base, { waitUntil: 'load', timeout: 120_000 });
      await page.waitForFunction((want: number) => window.statusPage?.stats.snapshotRenderedAt > 0
        && document.querySelector('[data-count="total"]').textContent === String(want), { timeout: 120_000 }, n);
      const t = await page.evaluate(() => ({ at: window.statusPage.stats.snapshotAt, drawn: window.statusPage.stats.snapshotRenderedAt }));
      loadMs.push(t.drawn);
      snapshotToDrawnMs.push(t.drawn - t.at);
      fetchParseMs.push(await page.evaluate(async () => {
        const t0 = performance.now();
        const rows = await (await fetch('api/ps')).json();
        if (!Array.isArray(rows)) throw new Error('api/ps: not an array');
        return performance.now() - t0;
      }));
    }
    const domRows = await page.$$eval('#rows tr.row', (trs) => trs.length);
    const eventsBefore = await page.evaluate(() => window.statusPage.events as number);

    // One frame while scrolling through all N, a page at a time.
    const scrollMs: number[] = await page.evaluate(async () => {
      const sc = document.getElementById('scroller');
      const out: number[] = [];
      for (let top = 0; top < sc.scrollHeight; top += sc.clientHeight) {
        sc.scrollTop = top;
        await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))); // two frames: the change has been drawn
        out.push(window.statusPage.stats.lastRenderMs);
      }
      sc.scrollTop = 0;
      return out;
    });
    // Filtering (the view rebuilt over all N, then drawn), both ways, several times.
    const filterMs: number[] = await page.evaluate(async () => {
      const box = document.getElementById('filter');
      const out: number[] = [];
      for (let i = 0; i < 10; i++) {
        for (const v of ['status:Ready', 'H0', '']) {
          box.value = v;
          box.dispatchEvent(new Event('input', { bubbles: true }));
          await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))); // two frames: the change has been drawn
          out.push(window.statusPage.stats.lastRenderMs);
        }
      }
      return out;
    });
    // The floor: all N rows drawn at once, in the same page, with the same columns (forced layout).
    const fullMs: number[] = await page.evaluate(async (count: number) => {
      const out: number[] = [];
      for (let k = 0; k < 5; k++) {
        const t0 = performance.now();
        const table = document.createElement('table');
        table.className = 'ps';
        const body = document.createElement('tbody');
        for (let i = 0; i < count; i++) {
          const tr = document.createElement('tr');
          for (let c = 0; c < 12; c++) { const td = document.createElement('td'); td.textContent = `cell ${i}.${c}`; tr.append(td); }
          body.append(tr);
        }
        table.append(body);
        document.body.append(table);
        void table.offsetHeight;
        out.push(performance.now() - t0);
        table.remove();
      }
      return out;
    }, n);
    const eventsDuring = await page.evaluate(() => window.statusPage.events as number) - eventsBefore;
    const heap = (await page.metrics()).JSHeapUsedSize ?? null;
    const browserVersion = await tb.browser.version().catch(() => 'Chromium');
    left = await tb.close();

    const fullMedian = median(fullMs);
    s.figures.push(
      { name: `navigation start → table drawn from the /events snapshot of ${n} rows (median of ${loads})`, value: round(median(loadMs), 0), unit: 'ms' },
      { name: `snapshot event received → table drawn (parse, sort, draw; median of ${loads})`, value: round(median(snapshotToDrawnMs), 1), unit: 'ms',
        floor: round(median(fetchParseMs), 1), floorLabel: `fetch + JSON.parse of /api/ps (${n} rows) in the same page`,
        ratio: ratio(median(snapshotToDrawnMs), median(fetchParseMs)) },
      { name: `one frame while scrolling through ${n} rows (median of ${scrollMs.length})`, value: round(median(scrollMs), 2), unit: 'ms',
        floor: round(fullMedian, 1), floorLabel: `all ${n} rows drawn at once (no virtualisation), same page`, ratio: ratio(median(scrollMs), fullMedian),
        target: '< 16 ms (one frame at 60 Hz)', met: median(scrollMs) < 16 },
      { name: 'worst frame while scrolling', value: round(max(scrollMs), 2), unit: 'ms', floor: round(fullMedian, 1), floorLabel: 'as above', ratio: ratio(max(scrollMs), fullMedian) },
      { name: `one frame after a filter change (view rebuilt over ${n}; median of ${filterMs.length})`, value: round(median(filterMs), 2), unit: 'ms',
        floor: round(fullMedian, 1), floorLabel: 'as above', ratio: ratio(median(filterMs), fullMedian), target: '< 16 ms', met: median(filterMs) < 16 },
      { name: `table rows in the DOM with ${n} handlers`, value: domRows, unit: 'rows', floor: n, floorLabel: 'all rows', ratio: ratio(domRows, n) },
      { name: 'page JS heap in use', value: heap === null ? null : round(heap / 1048576, 1), unit: 'MB' },
    );
    s.notes.push(`Fleet: ${n} trivial handlers (install \`exit 0\`, enable writes its status file) under \`supervisor run --concurrency 16 --install-concurrency 16 --http-listen 127.0.0.1:PORT\`. `
      + `Browser: ${browserVersion} headless, 1280×800, through puppeteer-core. Times are the page's own performance.now() (web/table.js keeps the last frame's draw time), `
      + `so the browser's start-up and the test driver's round trips are not in them.`);
    const readyAfter = await readyAt();
    s.notes.push(`Measured while the fleet came up: ${readyBefore} of ${n} Ready when the browser started, ${readyAfter} when it closed; `
      + `${eventsDuring} \`rows\`/\`removed\` events reached the page during the scroll and filter rounds (each one marks the table dirty; it is drawn once per frame).`);
    if (left.length) s.notes.push(`**${left.length} browser processes outlived the browser** (killed).`);
    s.data['page'] = { n, readyBefore, readyAfter, eventsDuring, loadMs, snapshotToDrawnMs, fetchParseMs, scrollMs, filterMs, fullMs, domRows, heap };
    return [s];
  },
};
