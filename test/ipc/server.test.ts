import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { lstat, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { connectControl } from '../../src/ipc/client.js';
import { startControlServer, type ControlHandlers, type ControlServer, type ControlServerOptions } from '../../src/ipc/server.js';
import { SupervisorError } from '../../src/core/errors.js';
import { RawClient, makeRows, tempDir, waitFor } from './harness.js';
import { leaveStaleSocket } from './harness.js';

const rows = makeRows(3);
const info = { version: '0.1.0-test', libDir: '/lib/test' };

describe('control server: socket file', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  const servers: ControlServer[] = [];
  const start = async (extra: Partial<ControlServerOptions> = {}): Promise<ControlServer> => {
    const s = await startControlServer({ socketPath: tmp.socketPath, handlers: { ps: () => rows }, serverInfo: info, ...extra });
    servers.push(s);
    return s;
  };
  beforeEach(async () => { tmp = await tempDir(); });
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
    await tmp.cleanup();
  });

  test('the socket is a 0600 socket owned by this user, and no temporary file is left next to it', async () => {
    await start();
    const st = await lstat(tmp.socketPath);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(st.uid, process.getuid!());
    assert.deepEqual(await readdir(tmp.dir), ['supervisor.sock']);
  });

  test('the path never shows a mode wider than 0600 while the server starts (watched from another process)', async () => {
    const stopFile = join(tmp.dir, 'stop');
    const watcher = spawn(process.execPath, ['-e', `
      const fs = require('fs'); const [path, stop] = process.argv.slice(1);
      const modes = new Set(); let seen = 0, n = 0; const deadline = Date.now() + 10000;
      process.stderr.write('ready\\n');
      while (Date.now() < deadline) {
        try { modes.add(fs.lstatSync(path).mode); seen++; } catch {}
        if ((++n & 127) === 0 && fs.existsSync(stop)) break;
      }
      process.stdout.write(JSON.stringify({ modes: [...modes], seen }));`, tmp.socketPath, stopFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    watcher.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    const exited = new Promise<void>((resolve) => watcher.once('exit', () => resolve()));
    try {
      await new Promise<void>((resolve) => watcher.stderr.once('data', () => resolve()));
      for (let round = 0; round < 5; round++) {
        const s = await start();
        await delay(5);
        await s.close();
      }
      await writeFile(stopFile, '');
      await exited;
    } finally {
      watcher.kill('SIGKILL');
    }
    const result = JSON.parse(out) as { modes: number[]; seen: number };
    assert.ok(result.seen > 0, 'the watcher saw the socket at least once');
    assert.deepEqual(result.modes, [0o140600]);
  });

  test('a stale socket left by a killed daemon is replaced', async () => {
    await leaveStaleSocket(tmp.socketPath);
    assert.ok((await lstat(tmp.socketPath)).isSocket(), 'the killed server left its socket file behind');
    await start();
    const client = await connectControl(tmp.socketPath);
    assert.deepEqual(await client.call('ps', {}), rows);
    await client.close();
  });

  test('a live daemon on the path is refused with E_SOCKET_IN_USE and keeps serving', async () => {
    await start();
    await assert.rejects(start(), (err: SupervisorError) => err.code === 'E_SOCKET_IN_USE' && err.message.includes(tmp.socketPath));
    const client = await connectControl(tmp.socketPath);
    assert.equal((await client.call('ps', {})).length, 3);
    await client.close();
    assert.deepEqual(await readdir(tmp.dir), ['supervisor.sock']);
  });

  test('a file that is not a socket is left alone: E_SOCKET_PATH', async () => {
    await writeFile(tmp.socketPath, 'keep me');
    await assert.rejects(start(), (err: SupervisorError) => err.code === 'E_SOCKET_PATH' && /is not a socket/.test(err.message));
    assert.equal(await readFile(tmp.socketPath, 'utf8'), 'keep me');
    assert.deepEqual((await readdir(tmp.dir)).sort(), ['supervisor.sock']);
  });

  test('a socket path longer than unix sockets allow is E_SOCKET_PATH', async () => {
    const path = join(tmp.dir, 'x'.repeat(120));
    await assert.rejects(startControlServer({ socketPath: path, handlers: {}, serverInfo: info }),
      (err: SupervisorError) => err.code === 'E_SOCKET_PATH' && /unix sockets allow 107/.test(err.message));
  });

  test('bad options are one E_INVALID naming each option and value', async () => {
    await assert.rejects(start({ maxMessageBytes: 0, requestTimeoutMs: 1.5 }),
      (err: SupervisorError) => err.code === 'E_INVALID' && /maxMessageBytes: must be a whole number >= 1 \(got 0\)/.test(err.message)
        && /requestTimeoutMs: .*\(got 1.5\)/.test(err.message));
  });

  test('close() removes the socket file, is idempotent, and clients then get E_NO_DAEMON', async () => {
    const s = await start();
    await Promise.all([s.close(), s.close()]);
    await assert.rejects(lstat(tmp.socketPath), { code: 'ENOENT' });
    await assert.rejects(connectControl(tmp.socketPath), { code: 'E_NO_DAEMON' });
  });

  test('close() leaves a socket file that is no longer its own', async () => {
    const s = await start();
    const { rename } = await import('node:fs/promises');
    await rename(tmp.socketPath, join(tmp.dir, 'moved.sock'));
    await writeFile(tmp.socketPath, 'another daemon');
    await s.close();
    assert.equal(await readFile(tmp.socketPath, 'utf8'), 'another daemon');
  });
});

describe('control server: what a raw client can send', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let server: ControlServer;
  let streamSignal: AbortSignal | undefined;
  let pushed = 0;
  const handlers: Partial<ControlHandlers> = {
    ps: () => rows,
    status: ({ name }) => ({ name }),
    // A stream that never waits: each item is a batch of rows, about 20 KB as JSON.
    async watchPs(_params, { signal, send }) {
      streamSignal = signal;
      const batch = makeRows(40);
      const size = JSON.stringify(batch).length;
      while (!signal.aborted) {
        send(batch);
        pushed += size;
        await new Promise((resolve) => setImmediate(resolve));
      }
    },
  };
  const logs: string[] = [];
  beforeEach(async () => {
    tmp = await tempDir();
    streamSignal = undefined;
    pushed = 0;
    logs.length = 0;
    server = await startControlServer({ socketPath: tmp.socketPath, handlers, serverInfo: info, maxBufferedBytes: 256 * 1024, log: (l) => logs.push(l) });
  });
  afterEach(async () => {
    await server.close();
    await tmp.cleanup();
  });

  test('the handshake answers with the protocol and the server info', async () => {
    const raw = await RawClient.connect(tmp.socketPath);
    raw.send({ id: 0, method: 'hello', params: { protocol: 1, client: 'raw' } });
    assert.deepEqual(await raw.next(), { id: 0, ok: true, result: { protocol: 1, server: { pid: process.pid, ...info } } });
    raw.send({ id: 1, method: 'hello', params: { protocol: 1, client: 'raw' } });
    assert.deepEqual((await raw.next())['error'], { code: 'E_BAD_REQUEST', message: 'the handshake was already done on this connection' });
    raw.destroy();
  });

  test('a protocol mismatch is E_PROTOCOL, then the connection is closed', async () => {
    const raw = await RawClient.connect(tmp.socketPath);
    raw.send({ id: 0, method: 'hello', params: { protocol: 99, client: 'future' } });
    const answer = await raw.next();
    assert.equal((answer['error'] as { code: string }).code, 'E_PROTOCOL');
    assert.match((answer['error'] as { message: string }).message, /protocol 99, this daemon speaks 1/);
    await raw.whenClosed;
  });

  test('a request before the handshake is E_PROTOCOL and closes the connection', async () => {
    const raw = await RawClient.connect(tmp.socketPath);
    raw.send({ id: 1, method: 'ps' });
    assert.deepEqual(await raw.next(), { id: 1, ok: false, error: { code: 'E_PROTOCOL', message: 'the first request must be hello (protocol 1); got ps' } });
    await raw.whenClosed;
  });

  test('a malformed line gets E_MALFORMED with id null and the connection keeps working', async () => {
    const raw = await RawClient.greeted(tmp.socketPath);
    raw.send('{"id": 1, "method": \n');
    const bad = await raw.next();
    assert.equal(bad['id'], null);
    assert.equal((bad['error'] as { code: string }).code, 'E_MALFORMED');
    raw.send('"just a string"\n');
    assert.equal(((await raw.next())['error'] as { code: string }).code, 'E_MALFORMED');
    raw.send({ id: 2, method: 'ps' });
    assert.deepEqual(await raw.next(), { id: 2, ok: true, result: rows });
    raw.destroy();
  });

  test('an oversized line (2 MiB) gets E_TOO_LARGE and a close; the server serves the next client', async () => {
    const raw = await RawClient.greeted(tmp.socketPath);
    raw.send(`{"id":1,"method":"status","params":{"name":"${'a'.repeat(2 * 1024 * 1024)}"}}\n`);
    const answer = await raw.next();
    assert.equal(answer['id'], null);
    assert.equal((answer['error'] as { code: string }).code, 'E_TOO_LARGE');
    await raw.whenClosed;
    const client = await connectControl(tmp.socketPath);
    assert.deepEqual(await client.call('status', { name: 'after' }), { name: 'after' });
    await client.close();
  });

  test('a duplicate id while the first is running is E_BAD_REQUEST; a cancel of an unknown id is ignored', async () => {
    const raw = await RawClient.greeted(tmp.socketPath);
    raw.send({ id: 5, method: 'watchPs', params: {} });
    assert.equal((await raw.next())['stream'], true);
    raw.send({ id: 5, method: 'ps' });
    raw.send({ id: 77, method: 'cancel' });
    raw.send({ id: 5, method: 'cancel' });
    const seen: Array<Record<string, unknown>> = [];
    for (;;) {
      const m = await raw.next();
      if (m['stream']) continue;
      seen.push(m);
      if (m['end']) break;
    }
    assert.deepEqual(seen, [{ id: 5, ok: false, error: { code: 'E_BAD_REQUEST', message: 'request id 5 is already in use on this connection' } }, { id: 5, end: true }]);
    assert.equal(streamSignal?.aborted, true);
    raw.destroy();
  });

  test('more requests at once than maxInflight get E_BUSY', async () => {
    const busyTmp = await tempDir();
    const busy = await startControlServer({ socketPath: busyTmp.socketPath, serverInfo: info, maxInflight: 2,
      handlers: { status: ({ name }, { signal }) => new Promise((resolve) => signal.addEventListener('abort', () => resolve({ name }))) } });
    try {
      const raw = await RawClient.greeted(busyTmp.socketPath);
      for (const id of [1, 2, 3]) raw.send({ id, method: 'status', params: { name: `n${id}` } });
      assert.deepEqual(await raw.next(), { id: 3, ok: false, error: { code: 'E_BUSY', message: '2 requests are already running on this connection' } });
      raw.send({ id: 1, method: 'cancel' });
      assert.equal(((await raw.next())['error'] as { code: string }).code, 'E_CANCELLED');
      raw.send({ id: 4, method: 'ps' });
      assert.equal(((await raw.next())['error'] as { code: string }).code, 'E_UNKNOWN_METHOD', 'a slot is free again');
      raw.destroy();
    } finally {
      await busy.close();
      await busyTmp.cleanup();
    }
  });

  test('a client that half-closes still gets its answer', async () => {
    const raw = await RawClient.greeted(tmp.socketPath);
    raw.send({ id: 1, method: 'status', params: { name: 'half' } });
    raw.socket.end();
    assert.deepEqual(await raw.next(), { id: 1, ok: true, result: { name: 'half' } });
    await raw.whenClosed;
  });

  test('a client that never reads while the server streams is dropped, and the stream is aborted', async () => {
    const raw = await RawClient.connect(tmp.socketPath);
    raw.socket.pause();
    raw.send({ id: 0, method: 'hello', params: { protocol: 1, client: 'sleepy' } });
    raw.send({ id: 1, method: 'watchPs', params: {} });
    await waitFor(() => streamSignal?.aborted === true, 10_000, 'the stream to be aborted');
    await waitFor(() => server.connectionCount() === 0, 10_000, 'the connection to be dropped');
    assert.ok(pushed < 8 * 1024 * 1024, `the server stopped after ${pushed} bytes, not without bound`);
    assert.ok(logs.some((l) => /dropping a client that does not read/.test(l)), logs.join('\n'));
    raw.destroy();
  });
});
