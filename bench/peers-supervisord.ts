/**
 * supervisord in the peer comparison: the Debian package (apt-get update, apt-get install -y
 * supervisor; the image's policy-rc.d keeps the system service from starting), run by the bench in
 * the foreground with its own config, socket and logs in a temp folder, N programs
 * `/bin/sh loop.sh` with autostart off and startsecs=0 (RUNNING as soon as started, as PM2's online).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchContext } from './context.js';
import { FIXTURES } from './fixtures.js';
import type { PeerFigures } from './peers-ours.js';
import { markEnv, procStats, run, sleep, start, type Ran } from './proc-tools.js';
import { median } from './stats.js';

async function ensureInstalled(ctx: BenchContext): Promise<void> {
  if (existsSync('/usr/bin/supervisord') && existsSync('/usr/bin/supervisorctl')) return;
  ctx.log('installing supervisor from Debian packages (apt-get update, apt-get install -y supervisor)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = await run('apt-get', ['update'], { env, timeoutMs: 300_000 });
  if (update.code !== 0) throw new Error(`apt-get update failed: ${update.stderr.slice(-500)}`);
  const install = await run('apt-get', ['install', '-y', '--no-install-recommends', 'supervisor'], { env, timeoutMs: 300_000 });
  if (install.code !== 0) throw new Error(`apt-get install supervisor failed: ${install.stderr.slice(-500)}`);
}

function config(root: string, n: number): string {
  const sock = join(root, 'supervisor.sock');
  const head = `[unix_http_server]\nfile=${sock}\n\n[supervisord]\nnodaemon=true\nlogfile=${join(root, 'supervisord.log')}\npidfile=${join(root, 'supervisord.pid')}\n`
    + `childlogdir=${join(root, 'logs')}\nminfds=4096\n\n[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n`
    + `[supervisorctl]\nserverurl=unix://${sock}\n`;
  const programs = Array.from({ length: n }, (_, i) => `\n[program:svc-${i + 1}]\ncommand=/bin/sh ${join(FIXTURES, 'loop.sh')}\nautostart=false\nstartsecs=0\nautorestart=true\nstopasgroup=true\nkillasgroup=true\n`);
  return head + programs.join('');
}

/** Installs supervisord if needed and runs start/list/stop of `n` loop.sh programs. */
export async function runSupervisord(ctx: BenchContext, n: number): Promise<PeerFigures> {
  await ensureInstalled(ctx);
  const root = await mkdtemp(join(tmpdir(), 'bench-supervisord-'));
  ctx.cleanups.push(() => rm(root, { recursive: true, force: true }));
  await mkdir(join(root, 'logs'));
  const conf = join(root, 'supervisord.conf');
  await writeFile(conf, config(root, n));
  const libId = randomBytes(6).toString('hex');
  ctx.libIds.add(libId);
  const env = markEnv(libId, 'supervisord');
  // One operation's deadline: 180 s at N = 300, longer in proportion beyond (PM2 stops its apps one by one).
  const opMs = Math.max(180_000, 600 * n);
  const version = (await run('/usr/bin/supervisord', ['--version'])).stdout.trim();
  const daemon = start('/usr/bin/supervisord', ['-c', conf], { env });
  const ctl = async (...args: string[]): Promise<Ran> => run('/usr/bin/supervisorctl', ['-c', conf, ...args], { env, timeoutMs: opMs });
  const running = async (): Promise<number> => (await ctl('status')).stdout.split('\n').filter((l) => /\sRUNNING\s/.test(l)).length;
  try {
    const until = Date.now() + 60_000;
    while ((await ctl('pid')).code !== 0) {
      if (Date.now() > until) throw new Error('supervisord did not answer within 60 s');
      await sleep(200);
    }
    const pid = Number((await readFile(join(root, 'supervisord.pid'), 'utf8')).trim());
    let t0 = Date.now();
    const started = await ctl('start', 'all');
    if (started.code !== 0) throw new Error(`supervisorctl start all exited ${started.code}: ${started.stdout.slice(-300)}`);
    while ((await running()) !== n) {
      if (Date.now() - t0 > opMs) throw new Error(`supervisord: ${n} RUNNING not reached`);
      await sleep(100);
    }
    const startMs = Date.now() - t0;
    ctx.log(`${version}: started ${n} in ${startMs} ms`);
    await sleep(3000);
    const rss = procStats(pid)?.rssBytes ?? 0;
    const list: number[] = [];
    for (let i = 0; i < 5; i += 1) list.push((await ctl('status')).ms);
    t0 = Date.now();
    await ctl('stop', 'all');
    while ((await running()) !== 0) await sleep(100);
    const stopMs = Date.now() - t0;
    t0 = Date.now();
    await ctl('start', 'all');
    while ((await running()) !== n) {
      if (Date.now() - t0 > opMs) throw new Error(`supervisord: ${n} RUNNING again not reached`);
      await sleep(100);
    }
    const warmStartMs = Date.now() - t0;
    return { name: 'supervisord', version, startMs, warmStartMs, listMs: median(list), stopMs, deleteMs: null, daemonRssBytes: rss,
      notes: [`supervisord ${version} (Debian package), run in the foreground with N \`[program:x] command=/bin/sh loop.sh\`, autostart=false, startsecs=0, stopasgroup=true (the loop and its sleep end together, as with the others), default child logs; `
        + 'start = `supervisorctl start all` → all RUNNING in `supervisorctl status`; warm start = the same again after stop; stop = `supervisorctl stop all`; list = `supervisorctl status`; it has no delete.'] };
  } finally {
    await ctl('shutdown').catch(() => null);
    const gone = await Promise.race([daemon.exited.then(() => true), sleep(15_000).then(() => false)]);
    if (!gone) daemon.child.kill('SIGKILL');
  }
}
