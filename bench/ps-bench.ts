/**
 * 5. `supervisor ps --json` end to end (a new CLI process each time, median of several) next to
 * `node -e 0` run alternately with it; and the `ps` call inside the daemon, timed from a
 * persistent control connection, next to the cheapest round trip the socket allows.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SectionOutput } from './context.js';
import type { FleetEnv } from './fleet.js';
import { run, runCli } from './proc-tools.js';
import { median, quantile, ratio, round } from './stats.js';

const PS_FLOOR = fileURLToPath(new URL('./fixtures/ps-floor.cjs', import.meta.url));

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** Fills the ps section from the running fleet. */
export async function psSection(env: FleetEnv, s: SectionOutput): Promise<void> {
  const { daemon, params: p, ws } = env;
  const psJson: number[] = [];
  const node: number[] = [];
  const bare: number[] = [];
  let bytes = 0;
  for (let i = 0; i < p.psRuns; i += 1) {
    node.push((await run(process.execPath, ['-e', '0'])).ms);
    const b = await run(process.execPath, [PS_FLOOR, join(ws.libDir, 'supervisor.sock')]);
    if (b.code !== 0 || !b.stdout.startsWith('{"id":1,"ok":true')) throw new Error(`the bare ps client failed (exit ${b.code}): ${b.stderr.slice(-300)}`);
    bare.push(b.ms);
    const r = await runCli(['ps', '--json', ...ws.dirFlags]);
    if (r.code !== 0) throw new Error(`supervisor ps --json exited ${r.code}: ${r.stderr.slice(-300)}`);
    const rows = JSON.parse(r.stdout) as unknown[];
    if (rows.length !== p.n) throw new Error(`supervisor ps --json printed ${rows.length} rows, expected ${p.n}`);
    bytes = Buffer.byteLength(r.stdout);
    psJson.push(r.ms);
  }
  const table: number[] = [];
  for (let i = 0; i < Math.min(5, p.psRuns); i += 1) table.push((await runCli(['ps', ...ws.dirFlags])).ms);
  const inDaemon: number[] = [];
  const parsed: number[] = [];
  const roundTrip: number[] = [];
  for (let i = 0; i < 50; i += 1) {
    // The answer as text, as `supervisor ps --json` takes it: what the daemon and the socket cost.
    inDaemon.push(await timed(() => daemon.client.callRaw('ps', {})));
    parsed.push(await timed(() => daemon.ps()));
    // An unknown method is answered at once with an error: the socket's own cost, nothing served.
    roundTrip.push(await timed(() => (daemon.client.call as (m: string, p: object) => Promise<unknown>)('bench-noop', {}).catch(() => null)));
  }
  const e2e = median(psJson);
  const nodeMs = median(node);
  const bareMs = median(bare);
  const inside = median(inDaemon);
  const rt = median(roundTrip);
  s.figures.push(
    { name: `supervisor ps --json, N = ${p.n}, end to end (median of ${psJson.length})`, value: round(e2e, 0), unit: 'ms', floor: round(nodeMs, 0),
      floorLabel: `node -e 0, median of ${node.length}, alternating`, ratio: ratio(e2e, nodeMs), target: '≤ 150 ms', met: e2e <= 150 },
    { name: `the least client of the same daemon: connect, handshake + ps in one write, print (bench/fixtures/ps-floor.cjs, median of ${bare.length})`,
      value: round(bareMs, 0), unit: 'ms', floor: round(nodeMs, 0), floorLabel: 'node -e 0, alternating', ratio: ratio(bareMs, nodeMs), target: undefined, met: null },
    { name: `ps call inside the daemon (persistent control connection, answer taken as text, median of ${inDaemon.length})`, value: round(inside, 1), unit: 'ms', floor: round(rt, 2),
      floorLabel: 'round trip of an unknown method', ratio: ratio(inside, rt), target: '< 10 ms', met: inside < 10 },
    { name: `the same call with the ${p.n} rows parsed by the client (median of ${parsed.length})`, value: round(median(parsed), 1), unit: 'ms', floor: round(rt, 2),
      floorLabel: 'round trip of an unknown method', ratio: ratio(median(parsed), rt) },
    { name: `supervisor ps (table), N = ${p.n}, end to end (median of ${table.length})`, value: round(median(table), 0), unit: 'ms', floor: round(nodeMs, 0),
      floorLabel: 'node -e 0', ratio: ratio(median(table), nodeMs) },
  );
  s.tables.push({ title: 'Distributions (ms):', header: ['what', 'min', 'median', 'p90', 'max'],
    rows: [['ps --json end to end', ...[0, 0.5, 0.9, 1].map((q) => round(quantile(psJson, q), 0))], ['node -e 0', ...[0, 0.5, 0.9, 1].map((q) => round(quantile(node, q), 0))],
      ['least client (ps-floor.cjs)', ...[0, 0.5, 0.9, 1].map((q) => round(quantile(bare, q), 0))],
      ['ps call in the daemon (as text)', ...[0, 0.5, 0.9, 1].map((q) => round(quantile(inDaemon, q), 1))],
      ['ps call in the daemon, rows parsed', ...[0, 0.5, 0.9, 1].map((q) => round(quantile(parsed, q), 1))], ['socket round trip', ...[0, 0.5, 0.9, 1].map((q) => round(quantile(roundTrip, q), 2))]] });
  s.notes.push(`The in-daemon figure is the \`ps\` call timed by a client that stays connected (src/ipc/client.ts connectControl/callRaw, as \`ps --json\` calls it): it includes serialising `
    + `${p.n} rows (${Math.round(bytes / 1024)} KiB of JSON) when they changed, the socket and cutting the answer out of its line, but no process start-up; the next figure adds the client's JSON.parse of the rows (call). The end-to-end figure is a new \`supervisor ps --json\` process each time (node start, module loading, connect, handshake, call, print).`);
  s.notes.push(`supervisor ps --json took ${ratio(e2e, bareMs)} × the least client's time in the same runs.`);
  s.data['samples'] = { psJson, node, bare, table, inDaemon, roundTrip, bytes };
}
