/**
 * Issue 15: a goal state that is invalid around its protected settings (a wrong type that holds
 * them, a syntax error next to them, nesting past the limit inside them) never shows them:
 * not in `validate` or `apply`, not in the daemon's console output (the journal), its
 * supervisor.log, its status report, nor any file under the lib and log dirs. Real CLI, real daemon.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Workspace } from '../helpers/handlers.js';
import { killLeftovers } from '../helpers/fleet.js';
import { runCli } from '../helpers/cli.js';
import { dirFlags, startDaemon, waitFor, type RunningDaemon } from '../helpers/daemon.js';
import { leaksIn, makeSecret, walkTree, type Capture } from '../helpers/secrets.js';

const secret = makeSecret();
const S = secret.value;
const LIT = JSON.stringify(S);
const HEX = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const handler = (over: Record<string, unknown>) => ({ name: 'Sec.A', version: '1.0', packages: [{ version: '1.0', sha256: HEX, uris: ['file:///nowhere.zip'] }], ...over });
const doc = (over: Record<string, unknown>) => JSON.stringify({ etag: 'bad', handlers: [handler(over)] }, null, 2);
const deep = `${'{"k":'.repeat(110)}${LIT}${'}'.repeat(110)}`;

/** name → [document text, what the log says about it (a path or a reason, never the value)] */
const BAD: ReadonlyArray<readonly [string, string, string]> = [
  ['extensions-object', doc({ extensions: { protectedSettings: S } }), 'handlers[0].extensions: must be an array'],
  ['misspelled-in-version', doc({ version: { ProtectedSetting: { token: S } } }), 'handlers[0].version: not a version'],
  ['root-array', JSON.stringify([{ name: 'default', protectedSettings: S }]), '(root): must be an object'],
  ['unquoted', doc({ extensions: [{ protectedSettings: 'PLACEHOLDER' }] }).replace('"PLACEHOLDER"', S.replace(/["\\]/g, '')), 'not valid JSON'],
  ['missing-comma', doc({ extensions: [{ protectedSettings: S, name: 'x' }] }).replace(`${LIT},`, LIT), "Expected ',' or '}'"],
  ['truncated-inside', doc({ extensions: [{ protectedSettings: { token: S, more: [S] } }] }).replace(/("more": \[\s*)[\s\S]*$/, `$1${LIT.slice(0, 20)}`), 'Unexpected end of JSON input'],
  ['too-deep', `{"handlers": [{"name": "Sec.A", "version": "1.0", "extensions": [{"protectedSettings": ${deep}}]}]}`, 'nested too deep'],
];

describe('an invalid goal state never shows its protected settings (issue 15)', () => {
  let ws: Workspace;
  let daemon: RunningDaemon | undefined;
  const captures: Capture[] = [];
  const files = new Map<string, string>();
  const capture = (where: string, r: { code: number | null; stdout: string; stderr: string }): void => {
    captures.push({ where: `${where} (exit ${r.code}) stdout`, text: r.stdout }, { where: `${where} (exit ${r.code}) stderr`, text: r.stderr });
  };
  const results = new Map<string, { code: number | null; stderr: string }>();
  let logText = '';

  before(async () => {
    ws = await Workspace.create('exts-invalid-secret-');
    for (const [name, text] of BAD) {
      const file = join(ws.root, `${name}.json`);
      await writeFile(file, text);
      files.set(name, file);
    }
    const runs = BAD.flatMap(([name]) => [['validate', name, ['validate', files.get(name)!]],
      ['apply', name, ['apply', '--goal-state', files.get(name)!, ...dirFlags(ws)]]] as const);
    let next = 0;
    await Promise.all(Array.from({ length: 4 }, async () => {
      while (next < runs.length) {
        const [cmd, name, args] = runs[next++]!;
        const r = await runCli(args);
        capture(`${cmd} ${name}`, r);
        results.set(`${cmd} ${name}`, r);
      }
    }));
    // The daemon starts on the first bad document and is given each of the others in turn.
    const live = join(ws.root, 'goal-live.json');
    await writeFile(live, BAD[0]![1]);
    daemon = await startDaemon(ws, live, ['--log-level', 'debug']);
    const log = () => readFile(join(ws.logDir, 'supervisor.log'), 'utf8').catch(() => '');
    const count = async (says: string): Promise<number> => (await log()).split(says).length - 1;
    for (const [name, text, says] of BAD) {
      const seen = name === BAD[0]![0] ? 0 : await count(says);
      if (name !== BAD[0]![0]) {
        await new Promise((r) => setTimeout(r, 150)); // the watcher drops a change within 50 ms of the last
        await writeFile(`${live}.tmp`, text);
        await rename(`${live}.tmp`, live);
      }
      await waitFor(async () => (await count(says)) > seen, 30_000, `the daemon to log the problem of ${name}`);
    }
    capture('report', await runCli(['report', ...dirFlags(ws)]));
    capture('ps', await runCli(['ps', '--json', ...dirFlags(ws)]));
    capture('stop', await runCli(['stop', ...dirFlags(ws)]));
    const exit = await daemon.done;
    captures.push({ where: 'daemon stdout (the journal)', text: exit.stdout }, { where: 'daemon stderr (the journal)', text: exit.stderr });
    capture('offline report', await runCli(['report', ...dirFlags(ws)]));
    logText = await log();
    for (const f of [...await walkTree(ws.libDir), ...await walkTree(ws.logDir)]) captures.push({ where: `file ${f.path}`, text: f.data.toString('latin1') });
  }, { timeout: 180_000 });

  after(async () => {
    await daemon?.stop();
    if (ws) { await killLeftovers(ws); await ws.dispose(); }
  });

  test('validate and apply refuse each document with exit 2, naming the problem', () => {
    for (const [name, , says] of BAD) {
      for (const cmd of ['validate', 'apply']) {
        const r = results.get(`${cmd} ${name}`)!;
        assert.equal(r.code, 2, `${cmd} ${name}: ${r.stderr}`);
        assert.ok(r.stderr.includes(says), `${cmd} ${name} says "${says}": ${r.stderr}`);
      }
    }
    assert.match(results.get('validate extensions-object')!.stderr, /handlers\[0\]\.extensions: must be an array \(got \{"protectedSettings":"\(redacted\)"\}\)/);
    assert.ok(results.get('validate too-deep')!.stderr.includes(': handlers[0].extensions[0].protectedSettings... (95 levels more): nested too deep'),
      'the path stops at the protected key');
  });

  test('the daemon logged each one, reported an error, and kept running until stopped', () => {
    for (const [, , says] of BAD) assert.ok(logText.includes(says), `supervisor.log names "${says}"`);
    const report = captures.find((c) => c.where.startsWith('report') && c.where.endsWith('stdout'))!.text;
    assert.match(report, /invalid goal state/, 'the status report carries the error');
  });

  test('no output, log, report or file holds the protected value', () => {
    assert.ok(captures.length > 30, `captured ${captures.length} outputs and files`);
    const leaks = leaksIn(secret, captures);
    assert.equal(leaks.length, 0, `the secret leaked into:\n${leaks.join('\n')}`);
  });
});
