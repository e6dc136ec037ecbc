import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { validateCommand } from '../../src/cli/validate.js';

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
