/**
 * PM2 in the peer comparison: installed from npm into a temporary folder (`npm install pm2`),
 * its own PM2_HOME there, every process it starts marked for the bench's cleanup. The daemon is
 * started first (`pm2 ping`), so start times compare daemons already running.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchContext } from './context.js';
import { FIXTURES } from './fixtures.js';
import type { PeerFigures } from './peers-ours.js';
import { markEnv, procStats, run, sleep, type Ran } from './proc-tools.js';
import { median } from './stats.js';

interface JlistEntry { name: string; pm2_env?: { status?: string } }

/** Installs PM2 and runs start/list/stop/start/delete of `n` loop.sh processes. */
export async function runPm2(ctx: BenchContext, n: number): Promise<PeerFigures> {
  const root = await mkdtemp(join(tmpdir(), 'bench-pm2-'));
  ctx.cleanups.push(() => rm(root, { recursive: true, force: true }));
  const libId = randomBytes(6).toString('hex');
  ctx.libIds.add(libId);
  ctx.log('installing pm2 from npm into a temporary folder');
  const npm = await run('npm', ['install', 'pm2', '--prefix', root, '--no-audit', '--no-fund', '--loglevel=error'], { timeoutMs: 300_000 });
  if (npm.code !== 0) throw new Error(`npm install pm2 failed: ${npm.stderr.slice(-500)}`);
  const version = (JSON.parse(await readFile(join(root, 'node_modules/pm2/package.json'), 'utf8')) as { version: string }).version;
  const env = { ...markEnv(libId, 'pm2'), PM2_HOME: join(root, 'home') };
  // One operation's deadline: 180 s at N = 300, longer in proportion beyond (PM2 stops its apps one by one).
  const opMs = Math.max(180_000, 600 * n);
  const bin = join(root, 'node_modules/.bin/pm2');
  const pm2 = async (...args: string[]): Promise<Ran> => {
    const r = await run(bin, args, { env, timeoutMs: opMs });
    if (r.code !== 0) throw new Error(`pm2 ${args.join(' ')} exited ${r.code}: ${r.stderr.slice(-400)}`);
    return r;
  };
  const online = async (): Promise<number> => {
    const list = JSON.parse((await pm2('jlist')).stdout) as JlistEntry[];
    return list.filter((e) => e.pm2_env?.status === 'online').length;
  };
  const eco = join(root, 'ecosystem.config.cjs');
  const apps = Array.from({ length: n }, (_, i) => ({ name: `svc-${i + 1}`, script: join(FIXTURES, 'loop.sh'), interpreter: '/bin/sh', autorestart: true }));
  await writeFile(eco, `module.exports = ${JSON.stringify({ apps }, null, 1)};\n`);
  try {
    await pm2('ping');
    const untilOnline = async (t0: number, want: number, what: string): Promise<number> => {
      for (;;) {
        if ((await online()) === want) return Date.now() - t0;
        if (Date.now() - t0 > opMs) throw new Error(`pm2: ${what} not reached in ${opMs / 1000} s`);
        await sleep(100);
      }
    };
    let t0 = Date.now();
    await pm2('start', eco);
    const startMs = await untilOnline(t0, n, `${n} online`);
    ctx.log(`pm2 ${version}: started ${n} in ${startMs} ms`);
    await sleep(3000);
    const godPid = Number((await readFile(join(root, 'home', 'pm2.pid'), 'utf8')).trim());
    const rss = procStats(godPid)?.rssBytes ?? 0;
    const list: number[] = [];
    for (let i = 0; i < 5; i += 1) list.push((await pm2('ls')).ms);
    t0 = Date.now();
    await pm2('stop', 'all');
    const stopMs = await untilOnline(t0, 0, 'none online');
    t0 = Date.now();
    await pm2('start', 'all');
    const warmStartMs = await untilOnline(t0, n, `${n} online again`);
    const deleteMs = (await pm2('delete', 'all')).ms;
    return { name: 'PM2', version, startMs, warmStartMs, listMs: median(list), stopMs, deleteMs, daemonRssBytes: rss,
      notes: [`PM2 ${version} (npm, PM2_HOME in a temp folder), daemon started beforehand with \`pm2 ping\`; start = \`pm2 start ecosystem.config.cjs\` with N apps \`/bin/sh loop.sh\` → all online in \`pm2 jlist\`; `
        + 'warm start = `pm2 start all` of the stopped apps; stop = `pm2 stop all` → none online; delete = `pm2 delete all` of the running apps; list = `pm2 ls`; RSS of the God daemon.'] };
  } finally {
    await run(bin, ['kill'], { env, timeoutMs: 60_000 }).catch(() => null);
  }
}
