import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  PROTOCOL_VERSION, RawJson, checkHello, checkRequest, encodeMessage, parseRequest, parseServerMessage, toWireError,
} from '../../src/ipc/protocol.js';
import { SupervisorError } from '../../src/core/errors.js';

function codeOf(fn: () => unknown): string {
  try { fn(); } catch (err) { return (err as SupervisorError).code; }
  return 'no error';
}

describe('parseRequest', () => {
  test('reads a request with and without params', () => {
    assert.deepEqual(parseRequest('{"id":3,"method":"ps"}'), { ok: true, request: { id: 3, method: 'ps' } });
    assert.deepEqual(parseRequest('{"id":4,"method":"status","params":{"name":"a"}}'),
      { ok: true, request: { id: 4, method: 'status', params: { name: 'a' } } });
  });

  test('a line that is not JSON is E_MALFORMED with id null', () => {
    const r = parseRequest('{"id":1,');
    assert.equal(r.ok, false);
    assert.ok(!r.ok && r.id === null && r.error.code === 'E_MALFORMED' && /not a JSON line/.test(r.error.message));
  });

  const bad: Array<[string, string, number | null, RegExp]> = [
    ['[1,2]', 'E_MALFORMED', null, /must be a JSON object/],
    ['{"id":-1,"method":"ps"}', 'E_MALFORMED', null, /id must be a whole number >= 0 \(got -1\)/],
    ['{"id":"7","method":"ps"}', 'E_MALFORMED', null, /\(got "7"\)/],
    ['{"id":1.5,"method":"ps"}', 'E_MALFORMED', null, /\(got 1.5\)/],
    ['{"id":2}', 'E_MALFORMED', 2, /method must be a non-empty string \(got undefined\)/],
    ['{"id":2,"method":""}', 'E_MALFORMED', 2, /\(got ""\)/],
    ['{"id":5,"method":"ps","params":[1]}', 'E_BAD_PARAMS', 5, /params must be a JSON object \(got \[1\]\)/],
  ];
  for (const [line, code, id, message] of bad) {
    test(`${line} → ${code}`, () => {
      const r = parseRequest(line);
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.equal(r.error.code, code);
      assert.equal(r.id, id);
      assert.match(r.error.message, message);
    });
  }
});

describe('checkRequest', () => {
  test('knows calls and streams', () => {
    assert.deepEqual(checkRequest('ps', undefined), { kind: 'call', params: {} });
    assert.deepEqual(checkRequest('restart', { name: 'h' }), { kind: 'call', params: { name: 'h' } });
    assert.deepEqual(checkRequest('watchPs', { intervalMs: 500 }), { kind: 'stream', params: { intervalMs: 500 } });
  });

  test('an unknown method, or an inherited property name, is E_UNKNOWN_METHOD', () => {
    assert.equal(codeOf(() => checkRequest('frobnicate', {})), 'E_UNKNOWN_METHOD');
    assert.equal(codeOf(() => checkRequest('toString', {})), 'E_UNKNOWN_METHOD');
    assert.equal(codeOf(() => checkRequest('__proto__', {})), 'E_UNKNOWN_METHOD');
  });

  test('bad params name every field at fault and its value', () => {
    assert.throws(() => checkRequest('status', { name: 42 }),
      (err: SupervisorError) => err.code === 'E_BAD_PARAMS' && /status: params\.name must be a non-empty string \(got 42\)/.test(err.message));
    assert.throws(() => checkRequest('status', {}), /params\.name is required \(got undefined\)/);
    assert.throws(() => checkRequest('ps', { all: true }), /ps: params\.all is not a parameter of ps \(got true\)/);
    assert.throws(() => checkRequest('watchPs', { intervalMs: 5 }), /params\.intervalMs must be >= 100 \(got 5\)/);
    assert.throws(() => checkRequest('retry', { name: '', lines: 2.5 }),
      /params\.name must be a non-empty string \(got ""\); params\.lines is not a parameter of retry \(got 2.5\)/);
    assert.throws(() => checkRequest('watchPs', { intervalMs: 2.5 }), /params\.intervalMs must be a whole number \(got 2.5\)/);
  });
});

describe('checkHello', () => {
  test('accepts this protocol version', () => {
    assert.deepEqual(checkHello({ protocol: PROTOCOL_VERSION, client: 'supervisor-cli' }), { protocol: 1, client: 'supervisor-cli' });
  });

  test('another version, or none, is E_PROTOCOL naming both versions', () => {
    assert.throws(() => checkHello({ protocol: 2, client: 'x' }),
      (err: SupervisorError) => err.code === 'E_PROTOCOL' && /client speaks control protocol 2, this daemon speaks 1/.test(err.message));
    assert.equal(codeOf(() => checkHello(undefined)), 'E_PROTOCOL');
    assert.equal(codeOf(() => checkHello({ protocol: 1, client: 7 })), 'E_BAD_PARAMS');
  });
});

describe('server messages', () => {
  test('parses each message kind', () => {
    assert.deepEqual(parseServerMessage('{"id":1,"ok":true,"result":[1]}'), { id: 1, ok: true, result: [1] });
    assert.deepEqual(parseServerMessage('{"id":1,"ok":true}'), { id: 1, ok: true, result: null });
    assert.deepEqual(parseServerMessage('{"id":null,"ok":false,"error":{"code":"E_MALFORMED","message":"m"}}'),
      { id: null, ok: false, error: { code: 'E_MALFORMED', message: 'm' } });
    assert.deepEqual(parseServerMessage('{"id":2,"stream":true,"item":{"line":"x"}}'), { id: 2, stream: true, item: { line: 'x' } });
    assert.deepEqual(parseServerMessage('{"id":2,"end":true}'), { id: 2, end: true });
  });

  test('anything else is null', () => {
    for (const line of ['nope', '7', '{"id":1}', '{"id":"1","ok":true}', '{"id":1,"ok":false,"error":"x"}', '{"ok":true,"result":1}']) {
      assert.equal(parseServerMessage(line), null, line);
    }
  });

  test('toWireError keeps a SupervisorError code and hides nothing else', () => {
    assert.deepEqual(toWireError(new SupervisorError('E_UNKNOWN_HANDLER', 'no')), { code: 'E_UNKNOWN_HANDLER', message: 'no' });
    assert.deepEqual(toWireError(new TypeError('bad')), { code: 'E_INTERNAL', message: 'internal error: bad' });
  });

  test('a result JSON cannot carry becomes an E_INTERNAL error for that id', () => {
    const line = String(encodeMessage({ id: 9, ok: true, result: { n: 1n } }));
    assert.ok(line.endsWith('\n'));
    const back = parseServerMessage(line.trimEnd());
    assert.equal(back && 'error' in back && back.id === 9 && back.error.code, 'E_INTERNAL');
  });
});

describe('a snapshot serialised earlier', () => {
  test('goes out as the same line as the value itself, bytes kept for the next send', () => {
    const value = [{ name: 'Ünïcode.Handler', message: 'résumé … − done', pids: [1, 2] }];
    const raw = RawJson.of(value);
    for (const message of [{ id: 4, ok: true as const, result: raw }, { id: 5, stream: true as const, item: raw }]) {
      const line = encodeMessage(message);
      assert.ok(Array.isArray(line));
      const plain = 'result' in message ? { ...message, result: value } : { ...message, item: value };
      assert.equal(Buffer.concat(line as Buffer[]).toString('utf8'), `${JSON.stringify(plain)}\n`);
      assert.equal((line as Buffer[])[1], raw.bytes, 'the kept bytes themselves, not a copy');
    }
    assert.equal(raw.bytes, raw.bytes, 'encoded once');
  });
});

describe('client start-up cost', () => {
  // `supervisor ps` loads the client on every start: it must not pull in zod, chokidar or the supervisor.
  test('the client imports only node:net, node:fs and the light protocol modules', async () => {
    const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
    const seen = new Set<string>();
    const external = new Set<string>();
    const visit = async (file: string): Promise<void> => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = await readFile(join(root, file), 'utf8');
      for (const m of text.matchAll(/^\s*(?:import|export)\s+(?!type\b)[^'";]*?from\s+'([^']+)'/gm)) {
        const spec = m[1] as string;
        if (spec.startsWith('.')) await visit(normalize(join(dirname(file), spec.replace(/\.js$/, '.ts'))));
        else external.add(spec);
      }
    };
    await visit('src/ipc/client.ts');
    assert.deepEqual([...external].filter((s) => s !== 'node:net' && s !== 'node:fs'), []);
    assert.deepEqual([...seen].sort(), ['src/core/error-codes.ts', 'src/core/errors.ts', 'src/core/ndjson.ts', 'src/core/raw-json.ts',
      'src/ipc/client.ts', 'src/ipc/methods.ts', 'src/ipc/protocol.ts']);
  });
});
