/**
 * The docs run as written: every `supervisor <command>` line in a ```sh block of README.md and
 * docs/writing-a-handler.md names a real subcommand and real flags (asked of the real CLI's
 * --help), the README's command reference covers every command and flag, the handler-author
 * blocks of the guide run through /bin/sh, and the README's operator commands answer a daemon.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, chmod, cp, mkdir, mkdtemp, readFile, readdir, realpath, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI, runCli, startCli, type CliResult } from '../helpers/cli.js';
import { waitFor } from '../helpers/daemon.js';
import { endLibGroups } from '../helpers/cgroups.js';
import { scanAttributed } from '../../src/supervisor/process/attribution.js';
import { libIdOf } from '../../src/storage/dirs.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOCS = ['README.md', 'docs/writing-a-handler.md'] as const;

interface ShBlock { readonly doc: string; readonly line: number; readonly body: string; readonly tag: string | null }
interface Fence extends ShBlock { readonly lang: string }
interface Invocation { readonly where: string; readonly command: string; readonly flags: readonly string[] }

/** Every fenced block (```LANG), each with the `<!-- docs-test: NAME -->` tag on the line before its fence, if any. */
function fences(doc: string, text: string): Fence[] {
  const lines = text.split('\n');
  const out: Fence[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)$/.exec(lines[i]?.trim() ?? '');
    if (!open) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end]?.trim() !== '```') end++;
    const tag = /^<!-- docs-test: ([\w-]+)/.exec(lines[i - 1] ?? '')?.[1] ?? null;
    out.push({ doc, line: start + 1, body: lines.slice(start, end).join('\n'), tag, lang: open[1] ?? '' });
    i = end;
  }
  return out;
}

/** Fenced ```sh blocks. */
function shBlocks(doc: string, text: string): ShBlock[] {
  return fences(doc, text).filter((f) => f.lang === 'sh');
}

/** The shell lines of a block: continuations joined, heredoc bodies and comments dropped. */
function shellLines(body: string): Array<{ offset: number; text: string }> {
  const out: Array<{ offset: number; text: string }> = [];
  const lines = body.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const offset = i;
    let text = lines[i] ?? '';
    while (text.endsWith('\\') && i + 1 < lines.length) text = text.slice(0, -1) + (lines[++i] ?? '');
    text = text.replace(/(^|\s)#.*$/, '$1').trim();
    const heredoc = /<<-?\s*['"]?(\w+)['"]?/.exec(text);
    if (heredoc) while (i + 1 < lines.length && (lines[++i] ?? '').trim() !== heredoc[1]);
    if (text) out.push({ offset, text });
  }
  return out;
}

/** Each `supervisor CMD ...` (also `npx supervisor`, `$(supervisor ...)`, `npm start -- ...` = run) on a line. */
function invocations(where: string, line: string): Invocation[] {
  const out: Invocation[] = [];
  const flagsOf = (rest: string): string[] => rest.split(/\s+/)
    .filter((w) => /^--?[A-Za-z]/.test(w)).map((w) => w.replace(/=.*$/, ''));
  const re = /(?:^|[\s/(])supervisor(?:\.js)?\s+([^\s|;&#)]+)([^|;&#)]*)/g;
  for (const m of line.matchAll(re)) out.push({ where, command: m[1] ?? '', flags: flagsOf(m[2] ?? '') });
  const start = /(?:^|\s)npm start -- ([^|;&#)]*)/.exec(line);
  if (start) out.push({ where, command: 'run', flags: flagsOf(start[1] ?? '') });
  return out;
}

/** The flags a --help text lists (`-o, --output <file>` gives both). */
function helpFlags(help: string): Set<string> {
  const options = help.slice(help.indexOf('Options:'));
  return new Set([...options.matchAll(/^ +(-\w)?,?\s*(--[\w-]+)?/gm)].flatMap((m) => [m[1], m[2]]).filter((f): f is string => !!f));
}

interface Started { readonly child: ReturnType<typeof spawn>; readonly done: Promise<CliResult>; readonly out: () => { stdout: string; stderr: string } }

/** Starts `argv` in its own process group (`prefix` first: setpriv, to run it as another user); ends the group if it outlives `timeoutMs`. */
function startIn(argv: readonly string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number; prefix?: readonly string[] }): Started {
  const [file, ...args] = [...(opts.prefix ?? []), ...argv];
  const child = spawn(file!, args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const timer = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ } }, opts.timeoutMs);
  const done = new Promise<CliResult>((resolve) => child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); }));
  return { child, done, out: () => ({ stdout, stderr }) };
}

/** Runs `script` with /bin/sh -eu (as another user with `prefix`); ends the whole process group if it outlives `timeoutMs`. */
function sh(script: string, opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number; prefix?: readonly string[] }): Promise<CliResult> {
  return startIn(['/bin/sh', '-eu', '-c', script], opts).done;
}

/** Live processes whose environment carries `marker` (zombies hold nothing and are skipped). */
async function processesWith(marker: string): Promise<number[]> {
  const found: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const [environ, stat] = await Promise.all([readFile(`/proc/${name}/environ`, 'latin1').catch(() => ''),
      readFile(`/proc/${name}/stat`, 'latin1').catch(() => '')]);
    if (environ.split('\0').includes(marker) && !/\) Z /.test(stat)) found.push(Number(name));
  }
  return found;
}

/** The checkout the README's quick tour shows (`In a second terminal, from /tmp/ext-supervisor:`). */
const README_CHECKOUT = '/tmp/ext-supervisor';
const NOBODY = 65534;

/**
 * What must agree between a line the README shows and the line the tour printed: the first word
 * without a digit (a name, a label, a header), after the words with digits (times, pids, sizes)
 * that lead the line; words of one character (a process STATE) are passed over. A line without
 * digits (but the isolation line, which depends on the user) must be the same word for word.
 */
function lineShape(line: string): string {
  const words = line.trim().split(/\s+/).filter(Boolean);
  const firstIndex = words.findIndex((w, i) => !/\d/.test(w) && (i === 0 || w.length > 1));
  const shape = `${firstIndex}:${words[firstIndex] ?? ''}`;
  return /\d/.test(line) || words[0] === 'isolation:' ? shape : `${shape}|${words.join(' ')}`;
}

/**
 * Runs the README's quick tour as written, as `uid` (null: as this process's user), in a copy of the
 * checkout that user owns: `npm start` (the checkout's package.json, scripts, dist and examples), each
 * tagged second-terminal block compared line by line with the output the README shows, the
 * uninstall the README describes, and its last block (`ps`: no handlers, `stop`). `npx supervisor`
 * is the project's own executable (the README says so): a shim on PATH runs bin/supervisor.js, as
 * npx does after its first call has built the project into npm's cache (tens of seconds, and files
 * outside the checkout). Ends every process it started and the daemon's cgroups.
 */
async function quickTour(uid: number | null): Promise<void> {
  const readme = docText.get('README.md') ?? '';
  const blocks = fences('README.md', readme);
  const startBlock = blocks.find((b) => b.tag === 'tour-start');
  const tour = blocks.flatMap((b, i) => (b.tag === 'tour' ? [{ block: b, shown: blocks[i + 1] }] : []));
  const end = blocks.find((b) => b.tag === 'tour-end');
  assert.ok(startBlock && end && tour.length >= 4 && tour.every((t) => t.shown?.lang === ''), 'the README tags its tour blocks, each followed by its output');

  const home = await mkdtemp(join(tmpdir(), 'docs-tour-'));
  const checkout = join(home, 'ext-supervisor');
  const libDir = join(checkout, '.example-lib');
  const tourMarker = `DOCS_TOUR=${home}`;
  const prefix = uid === null ? [] : ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--'];
  const env: NodeJS.ProcessEnv = { PATH: `${join(home, 'bin')}:${process.env['PATH'] ?? ''}`, HOME: home, DOCS_TOUR: home,
    DOCS_TEST_ROOT: root, npm_config_update_notifier: 'false', LANG: 'C.UTF-8' };
  let npmStart: Started | undefined;
  try {
    await mkdir(checkout);
    await mkdir(join(home, 'bin'));
    await writeFile(join(home, 'bin', 'npx'), `#!/bin/sh\n[ "$1" = supervisor ] || { echo "npx here runs only the project's supervisor" >&2; exit 127; }\n`
      + `shift\nexec '${process.execPath}' "$PWD/bin/supervisor.js" "$@"\n`);
    await chmod(join(home, 'bin', 'npx'), 0o755);
    for (const part of ['package.json', 'bin', 'dist', 'scripts', 'examples']) await cp(join(ROOT, part), join(checkout, part), { recursive: true });
    // The dependencies are read, never written: shared when the user may read them, else copied.
    const modules = await realpath(join(ROOT, 'node_modules'));
    const readable = uid === null || (await sh(`test -r '${modules}/commander/package.json'`, { cwd: '/', env, timeoutMs: 30_000, prefix })).code === 0;
    if (readable) await symlink(modules, join(checkout, 'node_modules'));
    else await cp(modules, join(checkout, 'node_modules'), { recursive: true });
    if (uid !== null) await sh(`chown -R -h ${uid}:${uid} '${home}'`, { cwd: '/', env: process.env, timeoutMs: 240_000 });

    // Terminal one: npm start, until the daemon says the example goal state is applied.
    npmStart = startIn(['npm', 'start'], { cwd: checkout, env, timeoutMs: 600_000, prefix });
    const started = npmStart;
    await waitFor(() => /etag example-1 applied: \d+\/4 reached their goal/.test(started.out().stderr) || started.child.exitCode !== null,
      240_000, 'npm start to apply the example goal state'); // bounds a failure only: a loaded machine is slow
    const { stdout: startOut, stderr: daemonLog } = started.out();
    assert.match(daemonLog, /etag example-1 applied: 4\/4 reached their goal/, `${startOut}\n${daemonLog}`);
    assert.equal((await stat(libDir)).uid, uid ?? process.getuid?.(), 'the lib dir is the tour user\'s: the daemon ran as that user');
    const here = (text: string): string => text.replaceAll(README_CHECKOUT, checkout);
    const shown = here(startBlock.body).split('\n');
    const preambleEnd = shown.findIndex((l) => l.startsWith('running and the next npm start adopts them')) + 1;
    assert.ok(preambleEnd > 0, 'the README shows what npm start prints');
    // npm's two lines and everything the start script prints are as the README shows them.
    // The one thing that may differ: another npm start (the other tour, a second test run) holds
    // port 8477, and then the script says so and takes a free one.
    const asShown = startOut.trim().split('\n').filter((l) => !l.startsWith('(port 8477 is in use'))
      .map((l) => l.replace(/^(status page: +http:\/\/127\.0\.0\.1:)\d+\//, '$18477/'));
    assert.equal(asShown.slice(0, preambleEnd).join('\n'), shown.slice(0, preambleEnd).join('\n'));
    const logLine = (l: string): string => l.replace(/^\d\d:\d\d:\d\d\.\d{3} /, '').replace(/\bpid \d+/g, 'pid N');
    const daemonLines = new Set(daemonLog.split('\n').map(logLine));
    for (const l of shown.slice(preambleEnd + 1)) {
      if (l === '...' || / isolation: /.test(l)) continue; // elided; the isolation lines depend on the user
      assert.ok(daemonLines.has(logLine(l)), `the daemon's log has "${logLine(l)}":\n${daemonLog}`);
    }
    // The README shows every handler Enabled and Ready, the service's heartbeat seen.
    const report = async (): Promise<{ handlers: Array<{ name: string; status: string; heartbeat?: unknown }> } | null> =>
      JSON.parse(await readFile(join(libDir, 'status-report.json'), 'utf8').catch(() => 'null')) as { handlers: Array<{ name: string; status: string }> } | null;
    await waitFor(async () => (await report())?.handlers.filter((h) => h.status === 'Ready').length === 4, 240_000, 'four handlers Ready');

    // Terminal two: each block as written, its output shaped as the README shows it.
    for (const { block, shown: out } of tour) {
      const r = await sh(block.body, { cwd: checkout, env, timeoutMs: 120_000, prefix });
      assert.equal(r.code, 0, `${block.doc}:${block.line}: ${block.body}\n${r.stdout}${r.stderr}`);
      const want = here(out!.body).split('\n');
      const got = r.stdout.replace(/\n$/, '').split('\n');
      assert.deepEqual(got.map(lineShape), want.map(lineShape), `${block.doc}:${block.line}: ${block.body}\n--- printed:\n${r.stdout}--- README:\n${out!.body}`);
    }

    // The README's uninstall: every handler's state "uninstall" and a new etag, in the goal-state file.
    const goalFile = join(libDir, 'goal-state.json');
    const goal = JSON.parse(await readFile(goalFile, 'utf8')) as { etag: string; handlers: Array<{ state: string }> };
    for (const h of goal.handlers) h.state = 'uninstall';
    goal.etag = 'example-2';
    await writeFile(goalFile, `${JSON.stringify(goal, null, 2)}\n`);
    await waitFor(async () => (await report())?.handlers.length === 0, 240_000, 'the examples uninstalled');
    for (const { text } of shellLines(end.body)) {
      const said: string = /#\s*(.*)$/.exec(end.body.split('\n').find((l) => l.includes(text)) ?? '')?.[1] ?? '';
      const r = await sh(text, { cwd: checkout, env, timeoutMs: 120_000, prefix });
      assert.equal(r.code, 0, `${text}\n${r.stdout}${r.stderr}`);
      assert.equal(r.stdout.trim().replace(/\d+/g, 'N'), said.replace(/\d+/g, 'N'), text);
    }
    const exit = await npmStart.done;
    assert.equal(exit.code, 0, 'npm start ends with the daemon it ran');
    // The service's worker was ended by its uninstall; nothing of the tour is left.
    assert.deepEqual(await processesWith(tourMarker), [], 'no process of the tour is left');
    assert.equal((await scanAttributed(libIdOf(libDir))).size, 0, 'no process attributed to the example lib dir');
  } finally {
    for (const pid of await processesWith(tourMarker)) try { process.kill(pid, 'SIGKILL'); } catch { /* gone meanwhile */ }
    await npmStart?.done;
    await endLibGroups(libIdOf(libDir));
    await rm(home, { recursive: true, force: true });
  }
}

let root: string;
let marker: string;
const docText = new Map<string, string>();
let helpPromise: Promise<Map<string, string>> | null = null;

/** Every subcommand with its --help text, asked of the real CLI once. */
function subcommandHelps(): Promise<Map<string, string>> {
  helpPromise ??= (async () => {
    const top = await runCli(['--help']);
    assert.equal(top.code, 0, top.stderr);
    const commands = top.stdout.slice(top.stdout.indexOf('Commands:'), top.stdout.indexOf('Exit codes:'));
    const names = [...commands.matchAll(/^ {2}([a-z][\w-]*)/gm)].map((m) => m[1] as string).filter((n) => n !== 'help');
    const helps = await Promise.all(names.map((n) => runCli([n, '--help'])));
    return new Map(names.map((n, i) => [n, helps[i]?.stdout ?? '']));
  })();
  return helpPromise;
}

/** Every subcommand with the flags its --help lists. */
async function subcommandFlags(): Promise<Map<string, Set<string>>> {
  return new Map([...await subcommandHelps()].map(([n, help]) => [n, helpFlags(help.slice(0, help.indexOf('Exit codes:')))]));
}

/** The exit codes a --help lists under "Exit codes:" (`  N  meaning` lines). */
function helpExitCodes(help: string): number[] {
  return [...help.slice(help.indexOf('Exit codes:')).matchAll(/^ {2}(\d) {2}/gm)].map((m) => Number(m[1]));
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'docs-commands-'));
  marker = `DOCS_TEST_ROOT=${root}`;
  for (const doc of DOCS) docText.set(doc, await readFile(join(ROOT, doc), 'utf8'));
});

after(async () => {
  const left = await processesWith(marker);
  for (const pid of left) try { process.kill(pid, 'SIGKILL'); } catch { /* gone meanwhile */ }
  await rm(root, { recursive: true, force: true });
  assert.deepEqual(left, [], 'a process started by these tests was still running');
});

// The three groups are independent and mostly wait on child processes: run them side by side.
describe('docs', { concurrency: true }, () => {
  describe('the commands in the docs', () => {
    test('every supervisor command in a sh block is a real subcommand, with flags its --help lists', async () => {
      const subcommands = await subcommandFlags();
      assert.ok(subcommands.size >= 10, `expected the 10 commands of CONTRACT section 7, got ${[...subcommands.keys()].join(', ')}`);
      const found: Invocation[] = [];
      for (const [doc, text] of docText) {
        for (const block of shBlocks(doc, text)) {
          for (const { offset, text: line } of shellLines(block.body)) found.push(...invocations(`${doc}:${block.line + offset}`, line));
        }
      }
      const problems: string[] = [];
      for (const inv of found) {
        const flags = subcommands.get(inv.command);
        if (!flags) { problems.push(`${inv.where}: "supervisor ${inv.command}" is not a command`); continue; }
        for (const f of inv.flags) if (!flags.has(f)) problems.push(`${inv.where}: supervisor ${inv.command} has no flag ${f}`);
      }
      assert.deepEqual(problems, []);
      const used = new Set(found.map((i) => i.command));
      for (const cmd of ['run', 'apply', 'ps', 'status', 'logs', 'sessions', 'stop', 'validate', 'pack']) assert.ok(used.has(cmd), `no sh block shows supervisor ${cmd}`);
    });

    test('docs/contract.md section 7 has a row for every command, names every flag, and the exit codes each --help lists', async () => {
      const contract = await readFile(join(ROOT, 'docs', 'contract.md'), 'utf8');
      const section = contract.slice(contract.indexOf('## 7. Commands'), contract.indexOf('## 8. '));
      const names = contract.slice(contract.indexOf('## 1. '), contract.indexOf('## 2. '));
      const problems: string[] = [];
      for (const [cmd, help] of await subcommandHelps()) {
        const row = section.split('\n').find((l) => l.startsWith(`| \`supervisor ${cmd}`));
        if (!row) { problems.push(`no row for supervisor ${cmd}`); continue; }
        for (const flag of helpFlags(help.slice(0, help.indexOf('Exit codes:')))) {
          if (!flag.startsWith('--') || flag === '--help') continue;
          const where = flag === '--lib-dir' || flag === '--log-dir' ? names : section;
          if (!new RegExp(`(?<![\\w-])${flag}(?![\\w-])`).test(where)) problems.push(`supervisor ${cmd} ${flag} is not in the contract`);
        }
        const tail = row.slice(row.lastIndexOf('Exit codes'));
        const contractCodes = [...tail.slice(tail.indexOf(':') + 1).matchAll(/(?:^|;)\s*(\d)\b/g)].map((m) => Number(m[1]));
        const codes = helpExitCodes(help);
        if (codes.length === 0) problems.push(`supervisor ${cmd} --help lists no exit codes`);
        if (contractCodes.join() !== codes.join()) problems.push(`supervisor ${cmd}: --help says exit ${codes.join(', ')}, the contract ${contractCodes.join(', ') || 'none'}`);
      }
      assert.deepEqual(problems, []);
      assert.deepEqual(helpExitCodes((await runCli(['--help'])).stdout), [0, 1, 2, 3, 4], 'supervisor --help lists every exit code');
    });

    test('the README reference names every command and every flag', async () => {
      const subcommands = await subcommandFlags();
      const readme = docText.get('README.md') ?? '';
      const missing: string[] = [];
      for (const [cmd, flags] of subcommands) {
        if (!readme.includes(`\`supervisor ${cmd}`)) missing.push(`supervisor ${cmd}`);
        for (const f of flags) if (f.startsWith('--') && f !== '--help' && !readme.includes(f)) missing.push(`supervisor ${cmd} ${f}`);
      }
      assert.deepEqual(missing, []);
      assert.match(readme, /^npm ci && npm test {10}# /m, 'the README keeps the npm test line .ci/run and the checker read');
    });
  });

  describe('the handler-author flow of docs/writing-a-handler.md', () => {
    test('packs, validates, applies and uninstalls the hello handler exactly as the doc shows', async () => {
      const blocks = shBlocks('docs/writing-a-handler.md', docText.get('docs/writing-a-handler.md') ?? '');
      const flow = blocks.find((b) => b.tag === 'author-flow');
      const uninstall = blocks.find((b) => b.tag === 'author-uninstall');
      assert.ok(flow && uninstall, 'the guide tags its author-flow and author-uninstall blocks');
      const bin = join(root, 'bin');
      const tmp = join(root, 'tmp');
      await mkdir(bin);
      await mkdir(tmp);
      await writeFile(join(bin, 'supervisor'), `#!/bin/sh\nexec '${process.execPath}' '${CLI}' "$@"\n`);
      await chmod(join(bin, 'supervisor'), 0o755);
      const env = { ...process.env, PATH: `${bin}:${process.env['PATH'] ?? ''}`, TMPDIR: tmp, DOCS_TEST_ROOT: root };

      // The timeouts bound a failure only: the quick tours run beside this on a loaded machine.
      const first = await sh(flow.body, { cwd: ROOT, env, timeoutMs: 240_000 });
      assert.equal(first.code, 0, `${first.stdout}\n${first.stderr}`);
      assert.match(first.stdout, /hello-1\.0\.0\.zip: valid package Example\.Hello 1\.0\.0 \(command form\)/);
      assert.match(first.stdout, /goal\.json: valid, 1 handler \(1 enabled\)/);
      assert.match(first.stdout, /1\/1 handlers reached their goal/);
      const [workName, ...others] = await readdir(tmp);
      assert.ok(workName && others.length === 0, 'the block made one work folder with mktemp -d');
      const work = join(tmp, workName);
      const zipSha = createHash('sha256').update(await readFile(join(work, 'hello-1.0.0.zip'))).digest('hex');
      assert.match(docText.get('docs/writing-a-handler.md') ?? '', new RegExp(`package's sha256 is\\s+\`${zipSha}\``),
        'the guide quotes the sha256 that pack gives the hello example');
      const status = JSON.parse(await readFile(join(work, 'lib', 'Example.Hello-1.0.0', 'status', '1.status'), 'utf8')) as
        Array<{ status: { status: string; formattedMessage: { message: string } } }>;
      assert.equal(status[0]?.status.status, 'success');
      assert.equal(status[0]?.status.formattedMessage.message, 'Hello, you!');

      const second = await sh(uninstall.body, { cwd: ROOT, env: { ...env, work }, timeoutMs: 240_000 });
      assert.equal(second.code, 0, `${second.stdout}\n${second.stderr}`);
      assert.match(second.stdout, /^Example\.Hello +- +NotInstalled +NotReady +.* uninstall:succeeded$/m);
      // What the doc's `ls` shows (no dot entries): the handler dir is gone.
      assert.deepEqual((await readdir(join(work, 'lib'))).filter((n) => !n.startsWith('.')).sort(), ['history', 'sessions', 'state', 'status-report.json']);
      assert.deepEqual(await readdir(join(work, 'lib', 'state')), []);
      assert.match(await readFile(join(work, 'log', 'Example.Hello', 'CommandExecution.log'), 'utf8'), /Example\.Hello uninstall 1\.0\.0 succeeded exit=0/);
    });
  });

  describe('the README quick tour, as written', { concurrency: true }, () => {
    // As root, once as root and once as an ordinary user (nobody, via setpriv); else as this ordinary user.
    const asRoot = process.getuid?.() === 0;
    test(`as ${asRoot ? 'root' : `${userInfo().username}, an ordinary user`}`, { timeout: 900_000 }, () => quickTour(null));
    if (asRoot) test('as an ordinary user (nobody, through setpriv)', { timeout: 900_000 }, () => quickTour(NOBODY));
  });

  describe('the operator commands of the README tour', () => {
    test('ps, status, logs, sessions, report and stop answer a running daemon, with the documented exit codes', async () => {
      const dir = join(root, 'tour');
      const dirs = ['--lib-dir', join(dir, 'lib'), '--log-dir', join(dir, 'log')];
      await mkdir(dir);
      const packed = await runCli(['pack', join(ROOT, 'examples', 'handlers', 'hello'), '-o', join(dir, 'hello.zip')]);
      assert.equal(packed.code, 0, packed.stderr);
      const goal = join(dir, 'goal.json');
      await writeFile(goal, JSON.stringify({ etag: 'tour-1', handlers: [{ name: 'Example.Hello', version: '1.0', state: 'enabled',
        packages: [{ version: '1.0.0', sha256: packed.stdout.split(' ')[0], uris: [`file://${join(dir, 'hello.zip')}`] }],
        extensions: [{ name: 'default', sequenceNumber: 1, publicSettings: { greeting: 'operator' } }] }] }));
      const daemon = startCli(['run', '--goal-state', goal, ...dirs], { DOCS_TEST_ROOT: root });
      try {
        // The status report on disk, not `ps` in a loop: a file read per poll instead of a process.
        await waitFor(async () => {
          const text = await readFile(join(dir, 'lib', 'status-report.json'), 'utf8').catch(() => '');
          const report = text ? JSON.parse(text) as { handlers: Array<{ state: string; extensions: Array<{ message: string }> }> } : null;
          return report?.handlers[0]?.state === 'Enabled' && report.handlers[0].extensions[0]?.message === 'Hello, operator!';
        }, 240_000, 'Example.Hello enabled under the daemon'); // bounds a failure only: a loaded machine is slow, and the two quick tours run beside it
        await access(join(dir, 'lib', 'supervisor.sock'));
        // Independent read-only commands: asked at once, checked one by one.
        const [ps, status, unknown, logs, sessions, report] = await Promise.all([['ps'], ['status', 'Example.Hello'],
          ['status', 'Example.Nope'], ['logs', 'Example.Hello', '-n', '2'], ['sessions'], ['report']].map((args) => runCli([...args, ...dirs])));
        assert.ok(ps && status && unknown && logs && sessions && report);
        assert.equal(ps.code, 0, ps.stderr);
        assert.match(ps.stdout, /^NAME +VERSION +STATE +STATUS +PIDS +CPU% +MEM +UPTIME +HEARTBEAT +RESTARTS +LAST-OP/);
        assert.match(ps.stdout, /Example\.Hello +1\.0\.0 +Enabled +Ready/);
        assert.equal(status.code, 0, status.stderr);
        assert.match(status.stdout, /default \(sequence 1\): success code 0: Hello, operator!/);
        assert.equal(unknown.code, 4, 'status of no such handler exits 4, as systemctl status does');
        assert.equal(logs.code, 0, logs.stderr);
        assert.match(logs.stdout, /Example\.Hello enable 1\.0\.0 succeeded exit=0/);
        assert.equal(logs.stdout.trimEnd().split('\n').length, 2);
        assert.equal(sessions.code, 0, sessions.stderr);
        assert.match(sessions.stdout, /run +\S+ +\S+ +tour-1 +succeeded +1 +1 +0/);
        assert.equal(report.code, 0, report.stderr);
        assert.equal((JSON.parse(report.stdout) as { handlers: Array<{ status: string }> }).handlers[0]?.status, 'Ready');
        const stop = await runCli(['stop', ...dirs]);
        assert.equal(stop.code, 0, stop.stderr);
        assert.match(stop.stdout, /^supervisor \(pid \d+\) stopped/);
        assert.equal((await daemon.done).code, 0);
      } finally {
        if (daemon.child.exitCode === null && daemon.child.signalCode === null) daemon.child.kill('SIGKILL');
        await daemon.done;
      }
      const [stopAgain, follow, offline] = await Promise.all([['stop'], ['logs', 'Example.Hello', '--follow'], ['ps']]
        .map((args) => runCli([...args, ...dirs])));
      assert.ok(stopAgain && follow && offline);
      assert.equal(stopAgain.code, 3, 'stop without a daemon');
      assert.equal(follow.code, 3, 'logs --follow without a daemon');
      assert.equal(offline.code, 0);
      assert.match(offline.stderr, /no daemon is running/);
      assert.match(offline.stdout, /Example\.Hello +1\.0\.0 +Enabled +Ready/);
    });
  });
});
