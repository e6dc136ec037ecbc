/**
 * Fuzzes `supervisor validate` with broken goal states (test/helpers/goal-fuzz.ts): truncated at
 * every offset, every JSON path given each wrong type, the protected value moved everywhere under
 * its own key and misspellings of it. Whatever the input, validate exits 0 or 2, prints no stack
 * trace and never the protected value. The bulk runs in-process through the function the CLI
 * calls; a seeded sample runs through the real executable and must print the same. The number of
 * cases is fixed, not the time spent; the seed is in the test names and in every failure, and
 * EXT_SUPERVISOR_FUZZ_SEED=<seed> (or `random`) replays (or varies) the run.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateCommand, validateGoalStateText, type ValidateIO } from '../../src/cli/validate.js';
import { runCli } from '../helpers/cli.js';
import { fuzzCases, fuzzSeed, mulberry32, seededSecret, type FuzzCase } from '../helpers/goal-fuzz.js';
import { secretHits } from '../helpers/secrets.js';
import { startServer, type TestServer } from '../helpers/packages-server.js';

const SEED = fuzzSeed();
const rnd = mulberry32(SEED);
const secret = seededSecret(rnd);
const RANDOM_CASES = 400;
const FILE_SAMPLE = 150;
const CLI_SAMPLE = 8;
const HTTP_SAMPLE = 40;
const cases = fuzzCases(secret, rnd, RANDOM_CASES);
const replay = `replay with EXT_SUPERVISOR_FUZZ_SEED=${SEED}`;

interface Outcome { readonly code: number | null; readonly stdout: string; readonly stderr: string }

/** validate in this process: on `src` as the CLI does (file or URL), or on `text` as if read from `src`. */
async function inProcess(src: string, text?: string): Promise<Outcome> {
  let stdout = '';
  let stderr = '';
  const io: ValidateIO = { stdout: (s) => { stdout += s; }, stderr: (s) => { stderr += s; } };
  try {
    const code = await (text === undefined ? validateCommand(src, io) : validateGoalStateText(src, text, io));
    return { code, stdout, stderr };
  } catch (err) {
    return { code: null, stdout, stderr: `${stderr}THREW ${(err as Error)?.stack ?? String(err)}` };
  }
}

const STACK_FRAME = /^\s+at\s.*(?:\(.*:\d+:\d+\)|:\d+:\d+)$/m;
const ERROR_NAME = /\b(?:Type|Range|Reference|Syntax|Internal)?Error: /;

/** What is wrong with one outcome: nothing for an exit 0 or 2 that shows no stack and no secret. */
function judge(c: FuzzCase, o: Outcome): string[] {
  const out = `${o.stdout}${o.stderr}`;
  const wrong: string[] = [];
  if (o.code !== 0 && o.code !== 2) wrong.push(`exit ${o.code}`);
  if (STACK_FRAME.test(out) || ERROR_NAME.test(out)) wrong.push('a stack trace or a raw error');
  const hits = secretHits(secret, out);
  if (hits.length > 0) wrong.push(`the protected value (${hits.slice(0, 3).join(', ')})`);
  if (o.stdout === '' && o.stderr === '') wrong.push('no output');
  if (out.split('\n').some((l) => l.length > 2000)) wrong.push('a line over 2,000 characters');
  return wrong.length === 0 ? [] : [`${c.label}: ${wrong.join('; ')}\n    ${JSON.stringify(out.slice(0, 600))}`];
}

function verdict(failures: readonly string[], ran: number): void {
  assert.equal(failures.length, 0, `${failures.length} of ${ran} cases failed (${replay}):\n${failures.slice(0, 15).join('\n')}`);
}

/** `count` distinct cases picked by the seed, the valid document always among them. */
function sample(count: number): FuzzCase[] {
  const picked = new Set<number>([0]);
  while (picked.size < Math.min(count, cases.length)) picked.add(Math.floor(rnd() * cases.length));
  return [...picked].sort((a, b) => a - b).map((i) => cases[i]!);
}

describe(`supervisor validate fuzz (seed ${SEED})`, () => {
  let dir = '';
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'fuzz-validate-')); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  test(`${cases.length} broken goal states in-process: exit 0 or 2, no stack trace, no protected value (seed ${SEED})`, async () => {
    const src = join(dir, 'goal.json');
    const failures: string[] = [];
    let valid = 0;
    for (const c of cases) {
      const o = await inProcess(src, c.text);
      if (o.code === 0) valid++;
      failures.push(...judge(c, o));
    }
    verdict(failures, cases.length);
    assert.ok(valid >= 1 && valid < cases.length / 2, `the valid document passes and most mutations are refused (${valid} valid)`);
  });

  /** Writes each case to its own file; the in-process verdicts on the file and on its text must agree. */
  async function onFiles(picked: readonly FuzzCase[], prefix: string, check: (c: FuzzCase, file: string, fromText: Outcome) => Promise<string[]>,
    parallel = 1): Promise<void> {
    const failures: string[] = [];
    let next = 0;
    await Promise.all(Array.from({ length: parallel }, async () => {
      while (next < picked.length) {
        const i = next++;
        const c = picked[i]!;
        const file = join(dir, `${prefix}-${i}.json`);
        await writeFile(file, c.text);
        const fromText = await inProcess(file, c.text);
        failures.push(...judge(c, fromText), ...await check(c, file, fromText));
      }
    }));
    verdict(failures, picked.length);
  }

  const differs = (c: FuzzCase, what: string, a: Outcome, b: Outcome): string[] =>
    (a.code === b.code && a.stdout === b.stdout && a.stderr === b.stderr ? []
      : [`${c.label}: ${what} differs from validating its text\n    ${JSON.stringify(a)}\n    text: ${JSON.stringify(b)}`]);

  test(`${FILE_SAMPLE} of them from files, in-process: what validating the text prints (seed ${SEED})`, async () => {
    await onFiles(sample(FILE_SAMPLE), 'file', async (c, file, fromText) => differs(c, 'the file', await inProcess(file), fromText));
  });

  test(`${CLI_SAMPLE} of them through the real executable: what the in-process run prints (seed ${SEED})`, async () => {
    await onFiles(sample(CLI_SAMPLE), 'cli', async (c, file, fromText) => {
      const cli = await runCli(['validate', file]);
      return [...judge(c, cli), ...differs(c, 'the executable', cli, fromText)];
    }, 4);
  });

  describe('served over HTTP', () => {
    let server: TestServer;
    before(async () => { server = await startServer(); });
    after(async () => { await server.close(); });

    test(`${HTTP_SAMPLE} of them from a URL: the same verdict, the URL named instead of the file (seed ${SEED})`, async () => {
      const failures: string[] = [];
      const picked = sample(HTTP_SAMPLE);
      for (const [i, c] of picked.entries()) {
        server.route(`/goal-${i}.json`, (_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }).end(c.text); });
        const file = join(dir, `http-${i}.json`);
        await writeFile(file, c.text);
        const url = `${server.base}/goal-${i}.json`;
        const [remote, local] = [await inProcess(url), await inProcess(file)];
        failures.push(...judge(c, remote));
        const same = (a: string) => a.replaceAll(url, '<src>');
        if (remote.code !== local.code || same(remote.stdout) !== local.stdout.replaceAll(file, '<src>')
          || same(remote.stderr) !== local.stderr.replaceAll(file, '<src>')) {
          failures.push(`${c.label}: from a URL differs from a file\n    url ${JSON.stringify(remote)}\n    file ${JSON.stringify(local)}`);
        }
      }
      verdict(failures, picked.length);
    });
  });
});
