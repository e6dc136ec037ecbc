/**
 * The secrets requirement: a unique secret in protectedSettings (a string, and a nested
 * object in a multi-config handler) never appears in any CLI output, socket response, log,
 * report, session, state or error message; only in the handlers' config/*.settings files.
 * One scenario drives every command and lifecycle path through the real CLI and daemon;
 * the tests below then judge each channel, naming every place the secret showed up.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { once } from 'node:events';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Workspace, handlerEntry, opsOf, type BuiltPackage } from '../helpers/handlers.js';
import { killLeftovers } from '../helpers/fleet.js';
import { runCli, startCli, type CliResult } from '../helpers/cli.js';
import { dirFlags, startDaemon, waitFor, type RunningDaemon } from '../helpers/daemon.js';
import { leaksIn, makeSecret, secretHits, walkTree, type Capture, type TreeEntry } from '../helpers/secrets.js';
import { PROTOCOL_VERSION } from '../../src/ipc/protocol.js';
import { closePackagePool } from '../../src/supervisor/packages/pool.js';

after(() => closePackagePool());

const secret = makeSecret();
const NESTED = { token: secret.value, deeper: { list: ['not secret', secret.value], n: 1 } };
const STATUS_FILE = `printf '[{"version":"1.0","timestampUTC":"2024-01-01T00:00:00Z","status":{"name":"svc","operation":"enable","status":"success","code":0,"formattedMessage":{"lang":"en-US","message":"enabled fine"}}}]' > "status/$ConfigSequenceNumber.status"`;
const HEARTBEAT = `printf '[{"heartbeat":{"status":"ready","code":0,"formattedMessage":{"lang":"en-US","message":"beating"}}}]' > heartbeat.log`;
const NAMES = ['Sec.Ok', 'Sec.Multi', 'Sec.Fail', 'Sec.Dep', 'Sec.Slow', 'Sec.Up', 'Sec.Toggle', 'Sec.Gone', 'Sec.Script', 'Sec.Beat'] as const;
/** The only place the secret may be: `<lib>/<name>-<version>/config/<...>.settings`. */
const SETTINGS_FILE = /^[A-Za-z0-9][A-Za-z0-9._-]*-\d+(?:\.\d+){0,3}\/config\/[^/]+\.settings$/;

type Stage = 1 | 2 | 3 | 4;
type Pkgs = Record<'ok' | 'multi' | 'fail' | 'dep' | 'slow' | 'toggle' | 'gone' | 'script' | 'beat', BuiltPackage> & { up: BuiltPackage[] };

const ext = (seq: number, name = 'default', settings: unknown = secret.value) =>
  ({ name, sequenceNumber: seq, publicSettings: { mode: 'fast' }, protectedSettings: settings, protectedSettingsCertThumbprint: 'ABCDEF0123' });

/** Stage 1: everything enabled; 2: upgrade, disable, uninstall; 3: upgrade again, re-enable, reinstall, new sequence numbers; 4: disable and uninstall again. */
function goalDoc(p: Pkgs, stage: Stage): Record<string, unknown> {
  const on = (s: Stage) => (s % 2 === 1 ? 'enabled' : 'disabled');
  const seq = stage >= 3 ? 2 : 1;
  return {
    etag: `g${stage}`,
    handlers: [
      handlerEntry('Sec.Ok', [p.ok], { extensions: [ext(seq)] }),
      handlerEntry('Sec.Multi', [p.multi], { extensions: [ext(1, 'alpha'), ext(seq, 'beta', NESTED)] }),
      handlerEntry('Sec.Fail', [p.fail], { extensions: [ext(1)] }),
      handlerEntry('Sec.Dep', [p.dep], { extensions: [ext(1)], dependsOn: ['Sec.Fail'] }),
      handlerEntry('Sec.Slow', [p.slow], { extensions: [ext(1)], timeouts: { enable: 0.5 } }),
      handlerEntry('Sec.Up', p.up, { version: ['1.0', '2.0', '3.0', '3.0'][stage - 1], extensions: [ext(seq)] }),
      handlerEntry('Sec.Toggle', [p.toggle], { state: on(stage), extensions: [ext(1)] }),
      handlerEntry('Sec.Gone', [p.gone], { state: stage % 2 === 1 ? 'enabled' : 'uninstall', extensions: [ext(1)] }),
      handlerEntry('Sec.Script', [p.script], { state: stage === 4 ? 'disabled' : 'enabled', extensions: [ext(seq)] }),
      handlerEntry('Sec.Beat', [p.beat], { extensions: [ext(1)], heartbeatTimeout: 1, onUnresponsive: 'restart' }),
    ],
  };
}

async function buildPackages(ws: Workspace): Promise<Pkgs> {
  // enable also saves its environment: the file scan then proves no secret reaches a command's environment
  const chatty = { install: 'echo "installing $SUPERVISOR_HANDLER"',
    enable: `env > environment-of-enable.txt; echo "enabling seq $ConfigSequenceNumber"; echo "note on stderr" >&2; ${STATUS_FILE}` };
  const up = (v: string) => ws.package({ name: 'Sec.Up', version: v, behavior: {
    ...chatty, enable: `echo "$ConfigSequenceNumber" > mrseq; ${chatty.enable}`, update: 'echo "updating from $AZURE_GUEST_AGENT_UPDATING_FROM_VERSION"' } });
  return {
    ok: await ws.package({ name: 'Sec.Ok', version: '1.0', behavior: chatty }),
    multi: await ws.package({ name: 'Sec.Multi', version: '1.0', manifest: { supportsMultipleExtensions: true }, behavior: { enable: 'echo "enabling $ConfigExtensionName"' } }),
    fail: await ws.package({ name: 'Sec.Fail', version: '1.0', behavior: { enable: 'echo "stdout before failing"; echo "cannot start the service" >&2; rc=3' } }),
    dep: await ws.package({ name: 'Sec.Dep', version: '1.0' }),
    slow: await ws.package({ name: 'Sec.Slow', version: '1.0', behavior: { enable: 'echo "starting slowly"; sleep 30' } }),
    up: [await up('1.0'), await up('2.0'), await up('3.0')],
    toggle: await ws.package({ name: 'Sec.Toggle', version: '1.0', behavior: chatty }),
    gone: await ws.package({ name: 'Sec.Gone', version: '1.0', behavior: chatty }),
    script: await ws.scriptPackage({ name: 'Sec.Script', version: '1.0', arguments: '--mode fast' }),
    beat: await ws.package({ name: 'Sec.Beat', version: '1.0', manifest: { reportHeartbeat: true }, behavior: { enable: HEARTBEAT } }),
  };
}

/** Runs `tasks` at most `limit` at a time (CLI starts dominate the test's time). */
async function inPool<T>(tasks: ReadonlyArray<() => Promise<T>>, limit = 6): Promise<T[]> {
  const out: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < tasks.length) { const i = next++; out[i] = await tasks[i]!(); }
  }));
  return out;
}

/** Speaks the control protocol by hand: hello, every call, then one item of each stream and its cancel. Returns everything the daemon sent. */
async function rawSocketSession(socketPath: string): Promise<{ text: string; messages: Array<Record<string, any>> }> {
  const sock = connect(socketPath);
  await once(sock, 'connect');
  let text = '';
  sock.setEncoding('utf8').on('data', (d: string) => { text += d; });
  const messages = (): Array<Record<string, any>> => text.split('\n').slice(0, -1).map((l) => JSON.parse(l) as Record<string, any>);
  const send = (m: unknown): void => { sock.write(`${JSON.stringify(m)}\n`); };
  const until = (what: string, pred: (m: Record<string, any>) => boolean) => waitFor(() => messages().some(pred), 5000, what);
  try {
    send({ id: 0, method: 'hello', params: { protocol: PROTOCOL_VERSION, client: 'secrets-test' } });
    await until('hello', (m) => m.id === 0);
    const calls: Array<[string, Record<string, unknown>]> = [['ps', {}], ['report', {}], ['sessions', {}], ['status', { name: 'Sec.Nope' }],
      ['status', { name: 'Sec.Ok', extra: 'x' }], ...NAMES.map((name): [string, Record<string, unknown>] => ['status', { name }])];
    calls.forEach(([method, params], i) => send({ id: i + 1, method, params }));
    await until('every call answered', () => calls.every((_, i) => messages().some((m) => m.id === i + 1 && 'ok' in m)));
    for (const [id, method, params] of [[100, 'watchPs', { intervalMs: 200 }]] as const) {
      send({ id, method, params });
      await until(`${method} item`, (m) => m.id === id && m.stream === true);
      send({ id, method: 'cancel' });
      await until(`${method} end`, (m) => m.id === id && (m.end === true || m.ok === false));
    }
    return { text, messages: messages() };
  } finally {
    sock.destroy();
  }
}

const UNRELATED = { name: 'Sec.Ok', status: 'Ready', code: 0, message: 'Plugin enabled', thumbprint: 'ABCDEF0123', publicSettings: { mode: 'fast' } };

describe('the secret detector', () => {
  test('finds the secret raw, JSON-escaped, as base64 at any offset, as hex and truncated; nothing else', () => {
    const inner = JSON.stringify({ protectedSettings: NESTED });
    const forms = [secret.value, JSON.stringify(secret.value), JSON.stringify(inner), JSON.stringify(JSON.stringify(inner)),
      ...[0, 1, 2].map((k) => Buffer.from(`${'x'.repeat(k)}${inner}`).toString('base64')),
      Buffer.from(inner).toString('base64url'), Buffer.from(inner).toString('hex'),
      `(got ${JSON.stringify({ name: 'default', sequenceNumber: 'one', protectedSettings: secret.value }).slice(0, 77)}...)`];
    for (const form of forms) assert.ok(secretHits(secret, form).length > 0, `found in ${form}`);
    assert.deepEqual(secretHits(secret, JSON.stringify(UNRELATED)), []);
    assert.deepEqual(secretHits(makeSecret(), secret.value), [], 'another run\'s secret does not match');
  });
});

describe('protected settings never leak', () => {
  let ws: Workspace;
  let daemon: RunningDaemon | undefined;
  const captures: Capture[] = [];
  const byChannel = (prefix: string) => captures.filter((c) => c.where.startsWith(prefix));
  const facts: { apply1?: Record<string, any>; socket?: Array<Record<string, any>>; files: TreeEntry[]; validate: CliResult[] } = { files: [], validate: [] };

  const cli = async (channel: string, args: string[]): Promise<CliResult> => {
    // validate and pack read no lib or log dir, and list no such flags.
    const r = await runCli(['validate', 'pack'].includes(args[0]!) ? args : [...args, ...dirFlags(ws)]);
    const where = `${channel} \`supervisor ${args.join(' ')}\` (exit ${r.code})`;
    captures.push({ where: `${where} stdout`, text: r.stdout }, { where: `${where} stderr`, text: r.stderr });
    return r;
  };
  /** Runs a long-running command (`ps --watch`, `logs --follow`) until it has printed for a moment, then ends it with SIGINT. */
  const briefly = async (channel: string, args: string[]): Promise<void> => {
    const { child, done } = startCli([...args, ...dirFlags(ws)]);
    let printed = false;
    child.stdout!.once('data', () => { printed = true; });
    // A command that never prints must not outlive the test.
    await waitFor(() => printed, 60_000, `output of supervisor ${args.join(' ')}`).catch(async (err: unknown) => { child.kill('SIGKILL'); await done; throw err; });
    await new Promise((r) => setTimeout(r, 400));
    child.kill('SIGINT');
    const r = await done;
    captures.push({ where: `${channel} \`supervisor ${args.join(' ')}\` stdout+stderr`, text: r.stdout + r.stderr });
  };
  // `logs` without --follow reads the file whether a daemon runs or not: once, at the end, it sees every entry.
  const suite = (channel: string, logs = false) => inPool([
    () => cli(channel, ['ps']), () => cli(channel, ['ps', '--json']), () => cli(channel, ['report']),
    () => cli(channel, ['sessions']), () => cli(channel, ['sessions', '--json']),
    ...NAMES.flatMap((n) => [() => cli(channel, ['status', n]), () => cli(channel, ['status', n, '--json']),
      ...(logs ? [() => cli(channel, ['logs', n, '--lines', '1000'])] : [])]),
  ]);
  const goalFile = (p: Pkgs, stage: Stage) => ws.goalState(goalDoc(p, stage), `goal-${stage}.json`);
  /** Replaces the daemon's goal file by rename, so it never reads half a document. */
  const swapGoal = async (target: string, doc: unknown, text = JSON.stringify(doc, null, 2)): Promise<void> => {
    // The daemon's watcher (chokidar) drops a change within 50 ms of the previous one for good: keep the swaps apart.
    await new Promise((r) => setTimeout(r, 150));
    await writeFile(`${target}.tmp`, text);
    await rename(`${target}.tmp`, target);
  };
  const sessionDone = (etag: string) => waitFor(async () => {
    const list = JSON.parse((await runCli(['sessions', '--json', ...dirFlags(ws)])).stdout) as Array<{ etag: string; endedAt: string | null }>;
    return list.some((s) => s.etag === etag && s.endedAt !== null);
  }, 60_000, `the session of ${etag}`);

  before(async () => {
    ws = await Workspace.create('exts-secrets-');
    const p = await buildPackages(ws);
    const g1 = await goalFile(p, 1);

    // validate: the valid document, then problems next to the secret (never in it), then unknown keys (warnings)
    const bad = (mutate: (doc: any) => void, file: string) => { const d = goalDoc(p, 1) as any; mutate(d); return ws.goalState(d, file); };
    const badFiles = [
      await bad((d) => { d.handlers[0].version = '1.x'; }, 'bad-version.json'),
      await bad((d) => { d.handlers[0].extensions[0].sequenceNumber = 'one'; }, 'bad-seq.json'),
      await bad((d) => { d.handlers[0].extensions[0].protectedSettingsCertThumbprint = 42; d.handlers[0].extensions[0].publicSettings = undefined; }, 'bad-thumbprint.json'),
      await bad((d) => { d.handlers[1].extensions[1].name = 'alpha'; d.handlers[1].state = 'on'; }, 'bad-multi.json'),
      await bad((d) => { d.handlers[3].dependsOn = ['Sec.Missing']; d.handlers[2].dependsOn = ['Sec.Dep']; }, 'bad-deps.json'),
    ];
    const syntax = join(ws.root, 'bad-syntax.json');
    await writeFile(syntax, JSON.stringify(goalDoc(p, 1), null, 2).replace('"etag": "g1",', '"etag": "g1" "oops",'));
    // one line, as tools write it, with a comma missing right after the secret: the error excerpt must not quote it
    const compact = join(ws.root, 'bad-syntax-compact.json');
    await writeFile(compact, JSON.stringify(goalDoc(p, 1)).replace(',"protectedSettingsCertThumbprint"', ' "protectedSettingsCertThumbprint"'));
    const warned = await bad((d) => { d.handlers[1].extensions[1].protectedSettingsThumbprint = 'typo'; d.handlers[1].colour = 'red'; }, 'warnings.json');
    facts.validate = await inPool([g1, ...badFiles, syntax, compact, warned].map((f) => () => cli('validate', ['validate', f])));
    await cli('apply-invalid', ['apply', '--goal-state', badFiles[0]!]);

    // one-shot applies: every path of stage 1 (JSON output), then stage 2 (text output)
    const a1 = await cli('apply', ['apply', '--goal-state', g1, '--json', '--kill-grace', '0.3']);
    facts.apply1 = JSON.parse(a1.stdout) as Record<string, any>;
    await cli('apply', ['apply', '--goal-state', await goalFile(p, 2), '--kill-grace', '0.3']);

    // the daemon: stage 2 again (the failing ones retry), an invalid document, stage 3, stage 4
    const live = join(ws.root, 'goal-live.json');
    await swapGoal(live, goalDoc(p, 2));
    daemon = await startDaemon(ws, live, ['--log-level', 'debug', '--stop-grace', '2']);
    await sessionDone('g2');
    await swapGoal(live, JSON.parse(await readFile(badFiles[0]!, 'utf8')));
    const daemonLog = () => readFile(join(ws.logDir, 'supervisor.log'), 'utf8').catch(() => '');
    await waitFor(async () => (await daemonLog()).includes('1.x'), 60_000, 'the daemon to log the invalid goal state');
    await swapGoal(live, null, await readFile(compact, 'utf8'));
    await waitFor(async () => (await daemonLog()).includes('not valid JSON'), 60_000, 'the daemon to log the goal state that is not JSON');
    await swapGoal(live, goalDoc(p, 3));
    await sessionDone('g3');
    await suite('daemon(stage 3)');
    await Promise.all([briefly('daemon', ['ps', '--watch', '--interval', '0.2']), briefly('daemon', ['logs', 'Sec.Fail', '--follow'])]);
    const sock = await rawSocketSession(join(ws.libDir, 'supervisor.sock'));
    captures.push({ where: 'raw control socket (status, ps, report, sessions, watchPs, errors)', text: sock.text });
    facts.socket = sock.messages;
    await waitFor(async () => opsOf(await ws.log(), 'Sec.Beat').includes('disable 1.0'), 60_000, 'the heartbeat restart of Sec.Beat');
    await swapGoal(live, goalDoc(p, 4));
    await sessionDone('g4');
    await suite('daemon(stage 4)');
    await cli('daemon', ['stop']);
    const exit = await daemon.done;
    captures.push({ where: 'daemon `supervisor run` stdout', text: exit.stdout }, { where: 'daemon `supervisor run` stderr', text: exit.stderr });

    // no daemon: the offline forms read everything from disk
    await suite('offline', true);
    facts.files = [...await walkTree(ws.libDir), ...await walkTree(ws.logDir)];
  }, { timeout: 400_000 }); // a bound on failure only: the scenario takes ~1 min alone, 3-4 min on a loaded 2-core machine

  after(async () => {
    await daemon?.stop();
    if (ws) { await killLeftovers(ws); await ws.dispose(); }
  });

  test('the scenario took every path it claims to', async () => {
    const h = (name: string) => (facts.apply1!['handlers'] as Array<Record<string, any>>).find((x) => x['name'] === name)!;
    assert.equal(h('Sec.Ok')['reached'], true);
    assert.equal(h('Sec.Fail')['code'], 1009, 'a failed enable');
    assert.match(String(h('Sec.Fail')['message']), /cannot start the service/, 'the failure carries the command output tail');
    assert.equal(h('Sec.Slow')['code'], 1011, 'a timed-out enable');
    assert.match(String(h('Sec.Dep')['message']), /Sec\.Fail/, 'a dependent blocked by its failed dependency');
    const log = await ws.log();
    const up = opsOf(log, 'Sec.Up');
    for (const op of ['disable 1.0', 'update 2.0', 'uninstall 1.0', 'disable 2.0', 'update 3.0', 'uninstall 2.0']) assert.ok(up.includes(op), `upgrade step ${op} ran`);
    assert.ok(opsOf(log, 'Sec.Toggle').filter((o) => o === 'disable 1.0').length >= 2, 'Sec.Toggle disabled by apply and by the daemon');
    assert.ok(opsOf(log, 'Sec.Gone').filter((o) => o === 'uninstall 1.0').length >= 2, 'Sec.Gone uninstalled by apply and by the daemon');
    assert.ok(opsOf(log, 'Sec.Beat').includes('disable 1.0'), 'Sec.Beat restarted for its stale heartbeat');
    const calls = await readFile(join(ws.libDir, 'work', 'Sec.Script', 'calls.log'), 'utf8').catch(() => '');
    assert.match(calls, /apply[\s\S]*cancel/, 'the script handler was applied and cancelled');
    assert.equal(facts.validate[0]!.code, 0, facts.validate[0]!.stderr);
    for (const r of facts.validate.slice(1, -1)) assert.equal(r.code, 2, `an invalid goal state is refused: ${r.stdout}${r.stderr}`);
    assert.match(facts.validate.at(-1)!.stdout, /warning: .*protectedSettingsThumbprint/);
    const socketStatus = facts.socket!.filter((m) => m['ok'] === true && (m['result'] as any)?.row?.name);
    assert.ok(socketStatus.length >= NAMES.length - 1, 'the socket answered status for the handlers');
    assert.ok(facts.socket!.some((m) => m['stream'] === true && Array.isArray(m['item'])), 'watchPs streamed rows');
  });

  test('the settings files hold the secret (string and nested object), mode 0600', () => {
    const settings = facts.files.filter((f) => f.kind === 'file' && SETTINGS_FILE.test(f.rel) && secretHits(secret, f.data).length > 0);
    const dirs = new Set(settings.map((f) => f.rel.split('/')[0]));
    for (const d of ['Sec.Ok-1.0', 'Sec.Multi-1.0', 'Sec.Fail-1.0', 'Sec.Slow-1.0', 'Sec.Up-3.0', 'Sec.Toggle-1.0', 'Sec.Beat-1.0']) {
      assert.ok(dirs.has(d), `${d}/config holds a settings file with the secret (found: ${[...dirs].join(', ')})`);
    }
    for (const f of settings) assert.equal(f.mode & 0o777, 0o600, `${f.rel} is 0600`);
    const beta = settings.find((f) => f.rel === 'Sec.Multi-1.0/config/beta.2.settings');
    assert.ok(beta, 'the multi-config handler has beta.2.settings');
    assert.deepEqual(JSON.parse(beta.data.toString('utf8')).runtimeSettings[0].handlerSettings.protectedSettings, NESTED);
    const script = settings.filter((f) => f.rel.startsWith('Sec.Script-')).map((f) => f.path);
    assert.deepEqual(script, [], `the script form reads no settings file, yet the secret was written to: ${script.join(', ')}`);
  });

  test('no file under the lib and log dirs other than config/*.settings holds the secret', () => {
    assert.ok(facts.files.length > 50, `walked ${facts.files.length} files`);
    const env = facts.files.find((f) => f.rel === 'Sec.Ok-1.0/environment-of-enable.txt');
    assert.match(env?.data.toString('utf8') ?? '', /^SUPERVISOR_HANDLER=Sec\.Ok$/m, 'the environment of an enable was saved and is scanned');
    const leaks = leaksIn(secret, facts.files.filter((f) => !(f.kind === 'file' && SETTINGS_FILE.test(f.rel)))
      .map((f) => ({ where: `${f.kind} ${f.path}`, text: f.data.toString('latin1') })));
    assert.equal(leaks.length, 0, `the secret leaked into:\n${leaks.join('\n')}`);
  });

  for (const [name, prefix, min] of [['supervisor validate (valid, invalid, warnings)', 'validate', 16], ['apply of an invalid goal state', 'apply-invalid', 2],
    ['supervisor apply (--json and text)', 'apply ', 4], ['the CLI against the daemon, the daemon\'s own output', 'daemon', 80],
    ['the raw control socket', 'raw control socket', 1], ['the offline ps/status/report/logs/sessions', 'offline', 30]] as const) {
    test(`no output of ${name} holds the secret`, () => {
      const outputs = byChannel(prefix);
      assert.ok(outputs.length >= min, `captured ${outputs.length} outputs of ${prefix}`);
      assert.ok(outputs.some((c) => c.text.length > 0), 'something was printed');
      const leaks = leaksIn(secret, outputs);
      assert.equal(leaks.length, 0, `the secret leaked into:\n${leaks.join('\n')}`);
    });
  }
});
