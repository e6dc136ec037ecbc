/**
 * deploy/install.sh run for real into a temporary root (DESTDIR), with production dependencies
 * pruned from the checkout's node_modules so no network is needed; the unit is checked with
 * systemd-analyze and its ExecStart line is run the way systemd would expand it.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LONG_RUNNING_NODE_FLAGS } from '../../src/supervisor/process/spawner.js';
import { daemonStartEnv } from '../../src/supervisor/process/daemon-env.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const script = join(root, 'deploy', 'install.sh');
const PREFIX = '/opt/ext-supervisor';
const UNIT = 'etc/systemd/system/ext-supervisor.service';
const nodeModules = join(root, 'node_modules');
// install.sh and the launcher's `#!/usr/bin/env node` must find the node running this test.
const PATH = `${dirname(process.execPath)}${delimiter}${process.env['PATH'] ?? '/usr/bin:/bin'}`;

function install(args: string[], env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  return spawnSync('sh', [script, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, PATH, ...env } });
}

function explain(r: SpawnSyncReturns<string>): string {
  return `exit ${r.status} ${r.signal ?? ''}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
}

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

/** KEY=value lines of a systemd environment file or of `Environment=` settings. */
function parseEnv(lines: string[]): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of lines.map((l) => l.trim())) {
    const eq = line.indexOf('=');
    if (line === '' || line.startsWith('#') || eq < 1) continue;
    vars[line.slice(0, eq)] = line.slice(eq + 1).trim();
  }
  return vars;
}

/** systemd's ExecStart expansion: `${X}` stays inside its word, a bare `$X` word splits on spaces. */
function expandExec(line: string, vars: Record<string, string>): string[] {
  const argv: string[] = [];
  for (const word of line.trim().split(/\s+/)) {
    const bare = /^\$([A-Za-z_]\w*)$/.exec(word);
    if (bare) argv.push(...(vars[bare[1] as string] ?? '').split(/\s+/).filter(Boolean));
    else argv.push(word.replace(/\$\{([A-Za-z_]\w*)\}/g, (_m, name: string) => vars[name] ?? ''));
  }
  return argv;
}

describe('deploy/install.sh', () => {
  let work: string;
  let dest: string;
  let first: SpawnSyncReturns<string>;

  before(() => {
    if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) {
      const b = spawnSync('npm', ['run', 'build'], { cwd: root, encoding: 'utf8', timeout: 120_000, env: { ...process.env, PATH } });
      assert.equal(b.status, 0, `npm run build: ${b.stderr}`);
    }
    work = mkdtempSync(join(tmpdir(), 'ext-sup-deploy-'));
    dest = join(work, 'root');
    first = install(['--destdir', dest, '--no-enable', '--node-modules-from', nodeModules]);
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  test('installs the package, unit, config and state dirs into DESTDIR', () => {
    assert.equal(first.status, 0, explain(first));
    const pkg = join(dest, PREFIX);
    for (const f of ['package.json', 'package-lock.json', 'bin/supervisor.cjs', 'bin/supervisor.js', 'dist/cli/main.js', 'docs/contract.md',
      'examples/goal-state.template.json', 'deploy/ext-supervisor.service', 'deploy/install.sh', 'deploy/README.md']) {
      assert.ok(existsSync(join(pkg, f)), `${f} is installed`);
    }
    assert.equal(readlinkSync(join(pkg, 'bin', 'supervisor')), 'supervisor.cjs');
    assert.equal(mode(join(dest, 'var/lib/ext-supervisor')), 0o700);
    assert.equal(mode(join(dest, 'var/log/ext-supervisor')), 0o700);
    assert.equal(mode(join(dest, 'etc/ext-supervisor')), 0o755);
    assert.equal(readlinkSync(join(dest, 'usr/local/bin/supervisor')), `${PREFIX}/bin/supervisor`);
    assert.deepEqual(readdirSync(dirname(pkg)), ['ext-supervisor'], 'no staging folder is left behind');

    const unit = readFileSync(join(dest, UNIT), 'utf8');
    assert.equal(mode(join(dest, UNIT)), 0o644);
    assert.doesNotMatch(unit, /@[A-Z_]+@/, 'every placeholder is substituted');
    // The goal state comes from $SUPERVISOR_GOAL_STATE, never the command line (a URL's token would show in /proc/<pid>/cmdline).
    assert.match(unit, /^ExecStart=\/usr\/bin\/env node (\S+ )*\/opt\/ext-supervisor\/bin\/supervisor run \$SUPERVISOR_ARGS$/m);
    const flags = /^ExecStart=\/usr\/bin\/env node (.*?) ?\/opt\//m.exec(unit)?.[1]?.split(' ') ?? [];
    assert.deepEqual(flags, [...LONG_RUNNING_NODE_FLAGS], 'the daemon runs with the flags the spawner and the benchmarks use');
    for (const [k, v] of Object.entries(daemonStartEnv())) {
      assert.ok(unit.split('\n').includes(`Environment=${k}=${v}`), `the unit sets ${k}=${v} for the daemon, as the benchmarks start it`);
    }
    assert.ok(unit.indexOf('Environment=MALLOC_') < unit.indexOf('EnvironmentFile='), 'the operator\'s env file can override them');
    assert.match(unit, /^Restart=always$/m);
    assert.match(unit, /^KillMode=process$/m);
    assert.match(unit, /^Type=notify$/m, 'started once READY=1 says the control socket listens');
    assert.match(unit, /^NotifyAccess=main$/m);
    assert.match(unit, /^WatchdogSec=\d+$/m, 'a hung daemon is restarted');
    assert.match(unit, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
    assert.match(unit, /^EnvironmentFile=-\/etc\/ext-supervisor\/supervisor\.env$/m);
    assert.match(unit, /^WantedBy=multi-user\.target$/m);

    const envFile = join(dest, 'etc/ext-supervisor/supervisor.env');
    assert.equal(mode(envFile), 0o600);
    assert.equal(parseEnv(readFileSync(envFile, 'utf8').split('\n'))['SUPERVISOR_GOAL_STATE'], '/etc/ext-supervisor/goal-state.json');
    const goal = JSON.parse(readFileSync(join(dest, 'etc/ext-supervisor/goal-state.json'), 'utf8')) as { handlers: unknown[] };
    assert.deepEqual(goal.handlers, []);
  });

  test('the installed CLI runs on the production dependencies alone', () => {
    const pkg = join(dest, PREFIX);
    const goal = join(dest, 'etc/ext-supervisor/goal-state.json');
    const v = spawnSync(process.execPath, [join(pkg, 'bin/supervisor'), 'validate', goal], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(v.status, 0, explain(v));
    assert.match(v.stdout, /valid, 0 handlers/);
    // Through the bin/supervisor link and the `#!/usr/bin/env node` line, as systemd starts it.
    const h = spawnSync(join(pkg, 'bin/supervisor'), ['--help'], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, PATH } });
    assert.equal(h.status, 0, explain(h));
    assert.match(h.stdout, /Usage: supervisor/);
    assert.ok(existsSync(join(pkg, 'node_modules/zod/package.json')), 'a production dependency is there');
    assert.ok(!existsSync(join(pkg, 'node_modules/typescript')), 'dev dependencies are pruned');
  });

  test("the unit's ExecStart, expanded as systemd does, starts the daemon and SIGTERM stops it", async () => {
    const unitLines = readFileSync(join(dest, UNIT), 'utf8').split('\n');
    const vars = {
      ...parseEnv(unitLines.filter((l) => l.startsWith('Environment=')).map((l) => l.slice('Environment='.length))),
      ...parseEnv(readFileSync(join(dest, 'etc/ext-supervisor/supervisor.env'), 'utf8').split('\n')),
    };
    assert.equal(vars['SUPERVISOR_GOAL_STATE'], '/etc/ext-supervisor/goal-state.json');
    // Redirect what would be the real root into DESTDIR; flags in SUPERVISOR_ARGS must reach the CLI as separate words.
    vars['SUPERVISOR_GOAL_STATE'] = join(dest, vars['SUPERVISOR_GOAL_STATE']);
    vars['SUPERVISOR_ARGS'] = '--poll-interval 30  --log-level debug';
    vars['SUPERVISOR_LIB_DIR'] = join(dest, 'var/lib/ext-supervisor');
    vars['SUPERVISOR_LOG_DIR'] = join(dest, 'var/log/ext-supervisor');
    vars['PATH'] = `${dirname(process.execPath)}${delimiter}${vars['PATH'] ?? ''}`;
    const exec = unitLines.find((l) => l.startsWith('ExecStart='));
    assert.ok(exec, 'the unit has ExecStart=');
    const argv = expandExec(exec.slice('ExecStart='.length), vars);
    const at = argv.findIndex((a) => a.startsWith(`${PREFIX}/`));
    assert.deepEqual(argv.slice(0, at), ['/usr/bin/env', 'node', ...LONG_RUNNING_NODE_FLAGS]);
    assert.deepEqual(argv.slice(at + 1), ['run', '--poll-interval', '30', '--log-level', 'debug']);
    argv[at] = join(dest, argv[at] as string);

    const child = spawn(argv[0] as string, argv.slice(1), { env: vars, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on('exit', (code, signal) => res({ code, signal })));
    try {
      const report = join(vars['SUPERVISOR_LIB_DIR'], 'status-report.json');
      const deadline = Date.now() + 20_000;
      while (!existsSync(report) && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.ok(existsSync(report), `the daemon wrote its status report\n${output}`);
      const cmdline = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0');
      assert.ok(LONG_RUNNING_NODE_FLAGS.every((f) => cmdline.includes(f)), `the daemon itself carries its node flags: ${cmdline.join(' ')}`);
      const environ = readFileSync(`/proc/${child.pid}/environ`, 'utf8').split('\0');
      for (const [k, v] of Object.entries(daemonStartEnv())) assert.ok(environ.includes(`${k}=${v}`), `the daemon runs with ${k}=${v}`);
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const end = await exited;
      clearTimeout(timer);
      assert.deepEqual(end, { code: 0, signal: null }, `SIGTERM is a graceful stop\n${output}`);
    } finally {
      if (child.exitCode === null && child.signalCode === null) { child.kill('SIGKILL'); await exited; }
    }
  });

  test('systemd-analyze verify finds nothing wrong with the unit', () => {
    // .ci/run installs systemd when it is missing: absent here is a failure, not a skip.
    const version = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
    if (version.error) assert.fail(`systemd-analyze is needed (apt-get install systemd): ${version.error.message}`);
    // verify checks that ExecStart's binary exists: point a copy of the unit into DESTDIR.
    const dir = join(work, 'verify');
    mkdirSync(dir, { recursive: true });
    const unit = readFileSync(join(dest, UNIT), 'utf8').replaceAll(` ${PREFIX}/`, ` ${join(dest, PREFIX)}/`);
    const verify = (text: string): { status: number | null; problems: string[] } => {
      const file = join(dir, 'ext-supervisor.service');
      writeFileSync(file, text);
      const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8', timeout: 60_000 });
      const problems = `${r.stdout}\n${r.stderr}`.split('\n')
        .filter((l) => l.includes('ext-supervisor.service'))
        // Newer systemd warns about KillMode=process; handlers outliving a restart is the intent.
        .filter((l) => !/KillMode=process/.test(l))
        // DelegateSubgroup= is systemd 254+; older ones (Debian 12 has 252) ignore it, and the daemon moves itself.
        .filter((l) => !/Unknown key( name)? 'DelegateSubgroup'/.test(l));
      return { status: r.status, problems };
    };
    const good = verify(unit);
    assert.deepEqual(good.problems, []);
    assert.equal(good.status, 0);
    // The same check does see a broken unit, so the empty list above means something.
    const bad = verify(unit.replace('Restart=always', 'Restart=sometimes'));
    assert.equal(bad.problems.length, 1, bad.problems.join('\n'));
  });

  test('a failed install leaves the previous one in place', () => {
    // `false` as npm: the dependency step fails after the package was staged.
    const r = install(['--destdir', dest, '--no-enable', '--node-modules-from', nodeModules], { NPM: 'false' });
    assert.equal(r.status, 1, explain(r));
    assert.match(r.stderr, /npm prune --omit=dev failed/);
    assert.ok(existsSync(join(dest, PREFIX, 'node_modules/zod/package.json')), 'the old install is untouched');
    assert.deepEqual(readdirSync(join(dest, 'opt')), ['ext-supervisor'], 'the staging folder is removed');
  });

  test('a second run succeeds and keeps an edited env file', () => {
    const envFile = join(dest, 'etc/ext-supervisor/supervisor.env');
    const edited = 'SUPERVISOR_GOAL_STATE=https://goal.example.invalid/state.json\nSUPERVISOR_ARGS=--poll-interval 10\n';
    writeFileSync(envFile, edited);
    const r = install(['--destdir', dest, '--no-enable', '--node-modules-from', nodeModules]);
    assert.equal(r.status, 0, explain(r));
    assert.equal(readFileSync(envFile, 'utf8'), edited);
    assert.match(r.stdout, /kept existing .*supervisor\.env/);
    assert.ok(existsSync(join(dest, PREFIX, 'dist/cli/main.js')));
    assert.match(readFileSync(join(dest, UNIT), 'utf8'), /^KillMode=process$/m);
  });

  test('--uninstall removes the package, unit and link but keeps config, state and logs', () => {
    const marker = join(dest, 'var/lib/ext-supervisor/state-marker');
    writeFileSync(marker, 'handler state');
    const r = install(['--destdir', dest, '--uninstall']);
    assert.equal(r.status, 0, explain(r));
    assert.ok(!existsSync(join(dest, PREFIX)));
    assert.ok(!existsSync(join(dest, UNIT)));
    assert.throws(() => lstatSync(join(dest, 'usr/local/bin/supervisor')), { code: 'ENOENT' });
    assert.equal(readFileSync(marker, 'utf8'), 'handler state');
    assert.ok(existsSync(join(dest, 'var/log/ext-supervisor')));
    assert.ok(existsSync(join(dest, 'etc/ext-supervisor/supervisor.env')));

    const purge = install(['--destdir', dest, '--uninstall', '--purge']);
    assert.equal(purge.status, 0, explain(purge));
    for (const d of ['var/lib/ext-supervisor', 'var/log/ext-supervisor', 'etc/ext-supervisor']) assert.ok(!existsSync(join(dest, d)), `${d} is purged`);
  });

  test('refuses a Node.js older than 20.19, naming both versions', () => {
    const fake = join(work, 'old-node');
    writeFileSync(fake, '#!/bin/sh\necho 20.18.1\n', { mode: 0o755 });
    const other = join(work, 'old-root');
    const r = install(['--destdir', other, '--no-enable', '--node-modules-from', nodeModules], { NODE: fake });
    assert.equal(r.status, 1, explain(r));
    assert.match(r.stderr, /Node\.js 20\.18\.1 .*too old.*>= 20\.19/);
    assert.ok(!existsSync(join(other, 'opt')), 'nothing is installed');
  });

  test('refuses a checkout without dist/ and says how to build it', () => {
    const from = join(work, 'unbuilt');
    mkdirSync(join(from, 'deploy'), { recursive: true });
    for (const f of ['package.json', 'package-lock.json', 'deploy/ext-supervisor.service']) cpSync(join(root, f), join(from, f));
    const r = install(['--destdir', join(work, 'unbuilt-root'), '--no-enable', '--from', from]);
    assert.equal(r.status, 2, explain(r));
    assert.match(r.stderr, /dist\/" is missing: build it first with \(cd ".*unbuilt" && npm ci && npm run build\)/);
  });

  test('rejects bad options with exit 2 and the offending value', () => {
    const rel = install(['--destdir', join(work, 'x'), '--prefix', 'opt/ext-supervisor']);
    assert.equal(rel.status, 2, explain(rel));
    assert.match(rel.stderr, /must be an absolute path \(got "opt\/ext-supervisor"\)/);
    const unknown = install(['--destdir', join(work, 'x'), '--frobnicate']);
    assert.equal(unknown.status, 2, explain(unknown));
    assert.match(unknown.stderr, /unknown option "--frobnicate"/);
  });
});
