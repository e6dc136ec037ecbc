import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { validateCommand } from '../../src/cli/validate.js';
import { runCli } from '../helpers/cli.js';
import { yazlZip } from '../helpers/packages-archives.js';
import { startServer, type TestServer } from '../helpers/packages-server.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/goal-states/', import.meta.url));
const fixture = (name: string): string => join(FIXTURES, name);

async function run(src: string): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await validateCommand(src, { stdout: (s) => out.push(s), stderr: (s) => err.push(s) });
  const lines = (chunks: string[]) => chunks.join('').split('\n').filter((l) => l !== '');
  return { code, out: lines(out), err: lines(err) };
}

describe('supervisor validate <goal-state file>', () => {
  test('a valid file: one summary line on stdout, exit 0', async () => {
    const src = fixture('three-handlers.json');
    const r = await run(src);
    assert.equal(r.code, 0);
    assert.deepEqual(r.err, []);
    assert.deepEqual(r.out, [`${src}: valid, 3 handlers (2 enabled, 1 disabled), etag "abc"`]);
  });

  test("the contract's example validates", async () => {
    const src = fixture('contract-example.json');
    const r = await run(src);
    assert.equal(r.code, 0);
    assert.deepEqual(r.out, [`${src}: valid, 2 handlers (2 enabled), etag "optional; an unchanged etag means nothing to do"`]);
  });

  test('unknown keys are printed as warnings before the summary, still exit 0', async () => {
    const src = fixture('unknown-keys.json');
    const r = await run(src);
    assert.equal(r.code, 0);
    assert.deepEqual(r.err, []);
    assert.deepEqual(r.out, [
      `warning: ${src}: schemaVersion: unknown key, ignored`,
      `warning: ${src}: handlers[0].priority: unknown key, ignored`,
      `warning: ${src}: handlers[0].packages[0].size: unknown key, ignored`,
      `warning: ${src}: handlers[0].extensions[0].color: unknown key, ignored`,
      `warning: ${src}: handlers[0].timeouts.enabel: unknown key, ignored`,
      `${src}: valid, 1 handler (1 enabled), no etag`,
    ]);
  });

  test('an invalid file: every problem on stderr, one per line, then a count; exit 2', async () => {
    const src = fixture('many-problems.json');
    const r = await run(src);
    assert.equal(r.code, 2);
    assert.deepEqual(r.out, []);
    assert.deepEqual(r.err, [
      `${src}: handlers[0].name: must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$ (letters, digits, '.', '_', '-'; at most 128; never a path) (got "../escape")`,
      `${src}: handlers[0].version: not a version: expected 1 to 4 dot-separated non-negative integers such as "1.2" or "2.2.53.1" (got "1.2.3.4.5")`,
      `${src}: handlers[0].state: must be one of "enabled", "disabled", "uninstall" (got "running")`,
      `${src}: handlers[0].packages[0].sha256: must be 64 hex characters (a SHA-256 digest) (got "abc123")`,
      `${src}: handlers[0].packages[0].uris[0]: unsupported scheme "ftp:": expected file:, http: or https: (got "ftp://mirror/p.zip")`,
      `${src}: handlers[1].dependsOn[0]: unknown dependency: no handler in this goal state has that name (got "Nobody")`,
      `${src}: handlers[2].timeouts.enable: must be a number of seconds > 0 (got -1)`,
      `${src}: handlers[2].name: duplicate name (also handlers[1].name) (got "Twin")`,
      `${src}: invalid, 8 problems`,
    ]);
  });

  test('a dependency cycle is named', async () => {
    const src = fixture('cycle.json');
    const r = await run(src);
    assert.equal(r.code, 2);
    assert.deepEqual(r.err, [`${src}: handlers[0].dependsOn: dependency cycle: A -> B -> C -> A (got ["B"])`, `${src}: invalid, 1 problem`]);
  });

  test('a file that is not JSON: the place of the error, exit 2', async () => {
    const src = fixture('not-json.json');
    const r = await run(src);
    assert.equal(r.code, 2);
    assert.equal(r.err.length, 2);
    assert.match(r.err[0] ?? '', new RegExp(`^${src.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: \\(root\\): not valid JSON: .* at line 3 column 36 \\(got .*\\)$`));
  });

  test('a 10,000-character etag is shown cut: the summary stays one short line (found by the fuzz test)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cli-validate-etag-'));
    try {
      const src = join(dir, 'goal.json');
      await writeFile(src, JSON.stringify({ etag: 'e'.repeat(10_000), handlers: [] }));
      const r = await run(src);
      assert.equal(r.code, 0);
      assert.deepEqual(r.out, [`${src}: valid, 0 handlers, etag "${'e'.repeat(116)}...`]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a missing file: a clear message, exit 2', async () => {
    const src = fixture('does-not-exist.json');
    const r = await run(src);
    assert.equal(r.code, 2);
    assert.deepEqual(r.out, []);
    assert.deepEqual(r.err, [`cannot read goal state ${src}: no such file`]);
  });
});

describe('supervisor validate <goal-state URL>', () => {
  let server: Server;
  let base = '';
  before(async () => {
    const body = await readFile(fixture('three-handlers.json'), 'utf8');
    server = createServer((req, res) => {
      if (req.url === '/goal.json') res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      else if (req.url === '/bad.json') res.writeHead(200).end('{"handlers": [{"name": "A", "version": "x"}]}');
      else res.writeHead(404).end();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  });

  test('a valid document served over HTTP', async () => {
    const r = await run(`${base}/goal.json`);
    assert.equal(r.code, 0);
    assert.deepEqual(r.out, [`${base}/goal.json: valid, 3 handlers (2 enabled, 1 disabled), etag "abc"`]);
  });

  test('problems name the URL', async () => {
    const r = await run(`${base}/bad.json`);
    assert.equal(r.code, 2);
    assert.equal(r.err[0], `${base}/bad.json: handlers[0].version: not a version: expected 1 to 4 dot-separated non-negative integers such as "1.2" or "2.2.53.1" (got "x")`);
  });

  test('an HTTP error status: a clear message, exit 2', async () => {
    const r = await run(`${base}/missing.json`);
    assert.equal(r.code, 2);
    assert.deepEqual(r.err, [`cannot read goal state ${base}/missing.json: HTTP 404 Not Found`]);
  });
});

describe('supervisor validate: bounded cost for every input (the real executable)', () => {
  let dir = '';
  let server: TestServer;
  let base = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cli-validate-bounds-'));
    // 1 MiB of spaces per ~1 KB gzip member; 1,200 of them decode to 1.2 GB.
    const member = gzipSync(Buffer.alloc(1024 * 1024, 0x20));
    server = await startServer();
    server.route('/bomb.json', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(Buffer.concat(Array.from({ length: 1200 }, () => member)));
    });
    base = server.base;
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('a goal state nested a million deep: exit 2 naming the place, the depth and the limit', async () => {
    const src = join(dir, 'deep.json');
    await writeFile(src, `{"handlers": ${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}}`);
    const r = await runCli(['validate', src]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `${src}: handlers[0][0][0][0][0]... (94 levels more): `
      + 'nested too deep: more than 100 levels of arrays and objects, the limit (line 1 column 113)\n'
      + `${src}: invalid, 1 problem\n`);
  });

  test('a dependsOn chain of 4,000 handlers validates; closed into a loop, exit 2 naming the cycle', async () => {
    const handlers = Array.from({ length: 4000 }, (_, i) => ({ name: `h${i}`, version: '1.0', dependsOn: i < 3999 ? [`h${i + 1}`] : [] }));
    const src = join(dir, 'chain.json');
    await writeFile(src, JSON.stringify({ handlers }));
    const ok = await runCli(['validate', src]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, `${src}: valid, 4000 handlers (4000 enabled), no etag\n`);
    handlers[3999]!.dependsOn = ['h0'];
    await writeFile(src, JSON.stringify({ handlers }));
    const cycle = await runCli(['validate', src]);
    assert.equal(cycle.code, 2, cycle.stderr);
    assert.ok(cycle.stderr.startsWith(`${src}: handlers[0].dependsOn: dependency cycle: h0 -> h1 -> h2 -> `), cycle.stderr.slice(0, 200));
    assert.ok(cycle.stderr.includes(' -> h3999 -> h0 (got ["h1"])\n'));
  });

  test('a package whose manifest is nested 100k deep: exit 2 naming the manifest, the depth and the limit', async () => {
    const pkg = join(dir, 'deep.zip');
    const manifest = '['.repeat(100_000) + ']'.repeat(100_000);
    await writeFile(pkg, await yazlZip([{ name: 'HandlerManifest.json', data: manifest }, { name: 'bin/enable.sh', data: 'exit 0' }]));
    const r = await runCli(['validate', pkg]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, '');
    assert.ok(r.stderr.includes(`${pkg}!HandlerManifest.json: [0][0][0][0][0][0]... (58 levels more): `
      + 'nested too deep: more than 64 levels of arrays and objects, the limit (line 1 column 65)\n'), r.stderr);
  });

  test('a gzip body that expands to 1.2 GB: exit 2 naming the URL and the 16 MiB limit', async () => {
    const r = await runCli(['validate', `${base}/bomb.json`]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, '');
    const m = /^goal state (\S+) is over the 16777216 byte limit \(read stopped at (\d+) bytes, counted after decoding\)\n$/.exec(r.stderr);
    assert.ok(m, r.stderr);
    assert.equal(m[1], `${base}/bomb.json`);
    assert.ok(Number(m[2]) <= 16 * 1024 * 1024 + 1024 * 1024, m[2]);
  });
});
