/**
 * Issue 15 item 4 through the real CLI and daemon: a goal-state URL with a `?sig=` token, given
 * by file and by environment, and package uris with the same token, never show the token in
 * /proc/<pid>/cmdline, the status report (written and pushed), sessions, supervisor.log,
 * CommandExecution.log or any CLI output; a handler that prints its protected setting to stdout
 * and stderr has it masked in everything the supervisor copies its output into; logs are 0600.
 */
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Workspace, handlerEntry, type BuiltPackage } from '../helpers/handlers.js';
import { killLeftovers } from '../helpers/fleet.js';
import { runCli, startCli, type CliResult } from '../helpers/cli.js';
import { dirFlags, waitFor } from '../helpers/daemon.js';
import { FRAGMENT_CHARS, leaksIn, makeSecret, walkTree, type Capture, type Secret } from '../helpers/secrets.js';
import { startServer, type TestServer } from '../helpers/packages-server.js';
import { buildDetail } from '../../src/supervisor/monitor/handler-detail.js';
import type { HandlerRecord } from '../../src/supervisor/lifecycle/record.js';
import type { HandlerRow } from '../../src/supervisor/monitor/types.js';
import type { PlanStep } from '../../src/supervisor/lifecycle/steps.js';

/** The URL token: hex, so it reads the same raw, URL-encoded and JSON-escaped. */
function tokenSecret(): Secret {
  const value = randomBytes(16).toString('hex');
  const needles = new Map<string, string>([['raw', value]]);
  for (let i = 0; i + FRAGMENT_CHARS <= value.length; i += 4) needles.set(`fragment [${i}, ${i + FRAGMENT_CHARS})`, value.slice(i, i + FRAGMENT_CHARS));
  return { value, needles };
}

const sig = tokenSecret();
const prot = makeSecret();
/**
 * The handler prints its protected setting raw and as JSON (escaped), on stdout and stderr, and
 * writes it into its status file's message and substatus, then fails: the failure message quotes both tails.
 */
const ECHO = `"${process.execPath}" -e 'const p = JSON.parse(require("fs").readFileSync("config/" + process.env.ConfigSequenceNumber + ".settings", "utf8")).runtimeSettings[0].handlerSettings.protectedSettings;
console.log("token is " + p.token); console.error("stderr token " + p.token + " as json " + JSON.stringify(p));
const m = (text) => ({ lang: "en-US", message: text });
require("fs").writeFileSync("status/" + process.env.ConfigSequenceNumber + ".status", JSON.stringify([{ version: "1.0", timestampUTC: "2024-01-01T00:00:00Z",
  status: { name: "svc", operation: "enable", status: "error", code: 1, formattedMessage: m("status token " + p.token),
    substatus: [{ name: "sub", status: "error", code: 1, formattedMessage: m("sub token " + p.token) }] } }]));'
env > environment-of-enable.txt
rc=1`;

/** Files the secret may be in: the handler's settings and the files it wrote itself (the protected value); the records, which keep uris to resume (the token). */
const PROT_ALLOWED = /^Url\.Echo-1\.0\/(config\/[^/]+\.settings|status\/[^/]+\.status|\.supervisor\/enable\.(stdout|stderr))$/;
const SIG_ALLOWED = /^state\/[^/]+\.json$/;

describe('URL tokens and handler output stay out of what the supervisor writes and shows', () => {
  let ws: Workspace;
  let server: TestServer;
  const pushed: string[] = [];
  const captures: Capture[] = [];
  const cmdlines: Capture[] = [];
  let goalUrl = '';
  let urlFile = '';

  const cli = async (args: string[]): Promise<CliResult> => {
    const r = await runCli([...args, ...dirFlags(ws)]);
    captures.push({ where: `\`supervisor ${args.join(' ')}\` stdout`, text: r.stdout }, { where: `\`supervisor ${args.join(' ')}\` stderr`, text: r.stderr });
    return r;
  };
  /** Every process's command line now (the daemon's, its spawner's, the handlers'). */
  const scanCmdlines = async (label: string): Promise<void> => {
    for (const pid of (await readdir('/proc')).filter((n) => /^\d+$/.test(n))) {
      const text = await readFile(`/proc/${pid}/cmdline`, 'latin1').catch(() => '');
      if (text) cmdlines.push({ where: `${label}: /proc/${pid}/cmdline`, text: text.replaceAll('\0', ' ') });
    }
  };
  // A lib dir no daemon has made yet has no sessions (and `sessions` refuses a missing lib dir).
  const sessionCount = async (): Promise<number> => !existsSync(ws.libDir) ? 0 :
    (JSON.parse((await runCli(['sessions', '--json', ...dirFlags(ws)])).stdout) as Array<{ endedAt: string | null }>).filter((s) => s.endedAt !== null).length;

  /** Runs a daemon until one more session has ended, then asks every command, then stops it. */
  const daemonRun = async (label: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> => {
    const before = await sessionCount();
    const { child, done } = startCli(['run', ...args, ...dirFlags(ws), '--kill-grace', '0.3', '--sample-interval', '0.5',
      '--report-url', `${server.base}/report`], env);
    let exited = false;
    void done.then(() => { exited = true; });
    try {
      await waitFor(async () => {
        if (exited) throw new Error(`supervisor run exited early: ${JSON.stringify(await done)}`);
        return (await sessionCount().catch(() => 0)) > before;
      }, 60_000, `${label}: the apply's session`);
      await scanCmdlines(label);
      await waitFor(() => pushed.some((b) => b.includes('Url.Echo') && b.includes('token is')), 30_000, `${label}: a pushed report with the failure`);
      const calls = [['ps'], ['ps', '--json'], ['report'], ['sessions'], ['sessions', '--json'],
        ...['Url.Echo', 'Url.Pkg', 'Url.Missing'].flatMap((n) => [['status', n], ['status', n, '--json'], ['logs', n, '--lines', '200']])];
      // Four at a time: CLI start-ups dominate the test's time.
      for (let i = 0; i < calls.length; i += 4) await Promise.all(calls.slice(i, i + 4).map((args) => cli(args)));
    } finally {
      if (!exited) child.kill('SIGTERM');
      const r = await done;
      captures.push({ where: `${label}: daemon stdout+stderr`, text: r.stdout + r.stderr });
    }
  };

  before(async () => {
    ws = await Workspace.create('exts-urlsecrets-');
    server = await startServer();
    // Only the right token opens anything: the supervisor really used it.
    const guarded = (body: () => Buffer) => (req: { url?: string }, res: import('node:http').ServerResponse) => {
      if (new URL(req.url ?? '/', server.base).searchParams.get('sig') !== sig.value) { res.writeHead(403); res.end('bad sig'); return; }
      const b = body();
      res.writeHead(200, { 'content-length': b.length }); res.end(b);
    };
    const echo = await ws.package({ name: 'Url.Echo', version: '1.0', behavior: { enable: ECHO } });
    const plain = await ws.package({ name: 'Url.Pkg', version: '1.0' });
    const viaHttp = async (p: BuiltPackage, name: string): Promise<BuiltPackage> => {
      const data = await readFile(p.file);
      server.route(`/pkgs/${name}.zip`, guarded(() => data));
      return { ...p, uris: [`${server.base}/pkgs/${name}.zip?sv=2020&sig=${sig.value}`] };
    };
    const missing: BuiltPackage = { ...plain, uris: [`${server.base}/pkgs/nowhere.zip?sig=${sig.value}`] };
    const doc = { etag: 'u1', handlers: [
      handlerEntry('Url.Echo', [await viaHttp(echo, 'echo')], { extensions: [{ name: 'default', sequenceNumber: 1, publicSettings: {},
        protectedSettings: { token: prot.value } }] }),
      handlerEntry('Url.Pkg', [await viaHttp(plain, 'plain')]),
      handlerEntry('Url.Missing', [missing]),
    ] };
    const docText = Buffer.from(JSON.stringify(doc));
    server.route('/goal.json', guarded(() => docText));
    server.route('/report', (req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (d: string) => { body += d; }).on('end', () => { pushed.push(body); res.writeHead(204); res.end(); });
    });
    goalUrl = `${server.base}/goal.json?sig=${sig.value}`;
    urlFile = join(ws.root, 'goal-url');
    await writeFile(urlFile, `${goalUrl}\n`, { mode: 0o600 });

    // Logs an older version left readable by others: made 0600 at start.
    await mkdir(join(ws.logDir, 'Url.Echo'), { recursive: true });
    for (const f of [join(ws.logDir, 'supervisor.log'), join(ws.logDir, 'Url.Echo', 'CommandExecution.log')]) {
      await writeFile(f, '');
      await chmod(f, 0o644);
    }

    await daemonRun('by file', ['--goal-state-url-file', urlFile], {});
    await daemonRun('by environment', [], { SUPERVISOR_GOAL_STATE: goalUrl });
    // Without a daemon, from disk: the status file is masked from the handler's settings files.
    for (const args of [['ps', '--json'], ['status', 'Url.Echo', '--json'], ['report']]) await cli(args);
  });

  after(async () => {
    await killLeftovers(ws);
    await server.close();
    await ws.dispose();
  });

  test('the token is in no process command line', () => {
    assert.ok(cmdlines.some((c) => c.text.includes('--goal-state-url-file')), 'the daemon was seen in /proc');
    assert.deepEqual(leaksIn(sig, cmdlines), []);
  });

  test('the token and the protected value are in no CLI output and no pushed report', () => {
    const all = [...captures, ...pushed.map((text, i) => ({ where: `pushed report #${i + 1}`, text }))];
    assert.deepEqual(leaksIn(sig, all), []);
    assert.deepEqual(leaksIn(prot, all), []);
  });

  test('what is shown says what was hidden: masked output, redacted uris and goal source', () => {
    const echo = captures.find((c) => c.where.startsWith('`supervisor status Url.Echo --json` stdout'))!;
    const row = (JSON.parse(echo.text) as { row: { message: string } }).row;
    assert.match(row.message, /token is \*\*\*/);
    assert.match(row.message, /stderr token \*\*\* as json \{"token":"\*\*\*"\}/);
    const ext = (JSON.parse(echo.text) as { row: { extensions: Array<{ message: string; substatus: Array<{ message: string }> }> } }).row.extensions[0]!;
    assert.equal(ext.message, 'status token ***');
    assert.equal(ext.substatus[0]!.message, 'sub token ***');
    const offline = captures.filter((c) => c.where.startsWith('`supervisor status Url.Echo --json` stdout')).at(-1)!;
    assert.match(offline.text, /"status token \*\*\*"/, 'the offline view masks the status file too');
    const missing = captures.find((c) => c.where.startsWith('`supervisor status Url.Missing --json` stdout'))!.text;
    assert.match(missing, /nowhere\.zip\?sig=\*\*\*/);
    const report = JSON.parse(pushed.at(-1)!) as { supervisor: { message: string } };
    assert.ok(pushed.some((b) => b.includes('goal.json?sig=***')), `a pushed report names the goal redacted (last: ${report.supervisor.message})`);
  });

  test('the token and the protected value are in no file but the handler\'s own and the records', async () => {
    const lib = await walkTree(ws.libDir);
    const log = await walkTree(ws.logDir);
    const leaks = [
      ...leaksIn(sig, lib.filter((e) => !SIG_ALLOWED.test(e.rel)).map((e) => ({ where: `lib/${e.rel}`, text: e.data.toString('latin1') }))),
      ...leaksIn(prot, lib.filter((e) => !PROT_ALLOWED.test(e.rel)).map((e) => ({ where: `lib/${e.rel}`, text: e.data.toString('latin1') }))),
      ...leaksIn(sig, log.map((e) => ({ where: `log/${e.rel}`, text: e.data.toString('latin1') }))),
      ...leaksIn(prot, log.map((e) => ({ where: `log/${e.rel}`, text: e.data.toString('latin1') }))),
    ];
    assert.deepEqual(leaks, []);
    assert.ok(lib.some((e) => PROT_ALLOWED.test(e.rel) && e.rel.endsWith('.stdout')), 'the handler did print to its output file');
    const env = await readFile(join(ws.libDir, 'Url.Echo-1.0', 'environment-of-enable.txt'), 'utf8');
    assert.ok(!env.includes('SUPERVISOR_GOAL_STATE'), 'the handler does not inherit the goal-state variable');
    const sessionLog = log.find((e) => e.rel === 'Url.Echo/CommandExecution.log')!.data.toString('utf8');
    assert.match(sessionLog, /token is \*\*\*/, 'the command log has the masked tails');
  });

  test('supervisor.log and CommandExecution.log are 0600, also those found wider at start', async () => {
    for (const f of [join(ws.logDir, 'supervisor.log'), join(ws.logDir, 'Url.Echo', 'CommandExecution.log'), join(ws.logDir, 'Url.Pkg', 'CommandExecution.log')]) {
      assert.equal((await stat(f)).mode & 0o777, 0o600, f);
    }
  });

  test('a goal-state URL file others may read is refused, naming it; none at all is a usage error', async () => {
    const wide = join(ws.root, 'wide-url');
    await writeFile(wide, goalUrl);
    await chmod(wide, 0o644);
    const r = await runCli(['apply', '--goal-state-url-file', wide, ...dirFlags(ws)]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /wide-url: group or others may access it \(mode 0644\)/);
    assert.ok(!r.stderr.includes(sig.value));
    const none = await runCli(['apply', ...dirFlags(ws)], { SUPERVISOR_GOAL_STATE: '' });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no goal state: give --goal-state SRC, --goal-state-url-file FILE or \$SUPERVISOR_GOAL_STATE/);
  });
});

describe('status NAME', () => {
  test('shows a pending fetch step with its package uris redacted; the record itself keeps them', async () => {
    const uri = 'https://h.example/p.zip?sv=1&sig=abcdef0123456789';
    const record = { schema: 1, name: 'X', state: 'NotInstalled', version: null, previousVersion: null, form: null, enabledExtensions: {},
      enabledAt: null, pending: { action: 'install', targetVersion: '1.0', fromVersion: null, reason: 'install', done: 0, running: null,
        upgrade: null, interruptions: 0, steps: [{ kind: 'fetch', version: '1.0', pkg: { version: '1.0', sha256: 'ab', uris: [uri] } }] } } as unknown as HandlerRecord;
    const row = { name: 'X', version: null } as unknown as HandlerRow;
    const detail = await buildDetail({ libDir: '/nonexistent-lib', logDir: '/nonexistent-log' }, row, record, [], null);
    const uris = (r: HandlerRecord | null) => (r!.pending!.steps[0] as Extract<PlanStep, { kind: 'fetch' }>).pkg.uris;
    assert.deepEqual(uris(detail.record), ['https://h.example/p.zip?sv=***&sig=***']);
    assert.deepEqual(uris(record), [uri]);
  });
});
