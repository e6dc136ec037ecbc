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
import { access, chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI, runCli, startCli, type CliResult } from '../helpers/cli.js';
import { waitFor } from '../helpers/daemon.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOCS = ['README.md', 'docs/writing-a-handler.md'] as const;

interface ShBlock { readonly doc: string; readonly line: number; readonly body: string; readonly tag: string | null }
interface Invocation { readonly where: string; readonly command: string; readonly flags: readonly string[] }

/** Fenced ```sh blocks, each with the `<!-- docs-test: NAME -->` tag on the line before its fence, if any. */
function shBlocks(doc: string, text: string): ShBlock[] {
  const lines = text.split('\n');
  const out: ShBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]?.trim() !== '```sh') continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end]?.trim() !== '```') end++;
    const tag = /^<!-- docs-test: ([\w-]+)/.exec(lines[i - 1] ?? '')?.[1] ?? null;
    out.push({ doc, line: start + 1, body: lines.slice(start, end).join('\n'), tag });
    i = end;
  }
  return out;
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

/** Runs `script` with /bin/sh -eu; ends the whole process group if it outlives `timeoutMs`. */
function sh(script: string, opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number }): Promise<CliResult> {
  const child = spawn('/bin/sh', ['-eu', '-c', script], { cwd: opts.cwd, env: opts.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const timer = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ } }, opts.timeoutMs);
  return new Promise((resolve) => child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); }));
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

let root: string;
let marker: string;
const docText = new Map<string, string>();
let helpPromise: Promise<Map<string, Set<string>>> | null = null;

/** Every subcommand with the flags its --help lists, asked of the real CLI once. */
function subcommandFlags(): Promise<Map<string, Set<string>>> {
  helpPromise ??= (async () => {
    const top = await runCli(['--help']);
    assert.equal(top.code, 0, top.stderr);
    const names = [...top.stdout.slice(top.stdout.indexOf('Commands:')).matchAll(/^ {2}([a-z][\w-]*)/gm)]
      .map((m) => m[1] as string).filter((n) => n !== 'help');
    const helps = await Promise.all(names.map((n) => runCli([n, '--help'])));
    return new Map(names.map((n, i) => [n, helpFlags(helps[i]?.stdout ?? '')]));
  })();
  return helpPromise;
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

      const first = await sh(flow.body, { cwd: ROOT, env, timeoutMs: 60_000 });
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

      const second = await sh(uninstall.body, { cwd: ROOT, env: { ...env, work }, timeoutMs: 60_000 });
      assert.equal(second.code, 0, `${second.stdout}\n${second.stderr}`);
      assert.match(second.stdout, /^Example\.Hello +- +NotInstalled +NotReady +.* uninstall:succeeded$/m);
      // What the doc's `ls` shows (no dot entries): the handler dir is gone.
      assert.deepEqual((await readdir(join(work, 'lib'))).filter((n) => !n.startsWith('.')).sort(), ['history', 'sessions', 'state', 'status-report.json']);
      assert.deepEqual(await readdir(join(work, 'lib', 'state')), []);
      assert.match(await readFile(join(work, 'log', 'Example.Hello', 'CommandExecution.log'), 'utf8'), /Example\.Hello uninstall 1\.0\.0 succeeded exit=0/);
    });
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
        }, 60_000, 'Example.Hello enabled under the daemon'); // bounds a failure only: a loaded machine is slow
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
