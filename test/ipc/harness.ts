/** Shared pieces of the control-socket tests: temp dirs, realistic `ps` rows, and a raw line client. */
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HandlerRow } from '../../src/supervisor/monitor/types.js';

/** A fresh folder under the OS temp dir (short: unix socket paths are limited to 107 bytes). */
export async function tempDir(): Promise<{ dir: string; socketPath: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'ipc-'));
  return { dir, socketPath: join(dir, 'supervisor.sock'), cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** `n` rows shaped like what the reporter serves, with the fields a real fleet fills in. */
export function makeRows(n: number): HandlerRow[] {
  const rows: HandlerRow[] = [];
  for (let i = 0; i < n; i++) {
    rows.push({
      name: `Contoso.Monitoring.Agent${i}`, version: `1.${i % 7}.${i % 13}.0`, desiredState: 'enabled', state: 'Enabled',
      status: 'Ready', code: 0, message: 'Plugin enabled', pids: [10_000 + i, 20_000 + i], cpuPercent: 0.4, memoryBytes: 23_456_789,
      uptimeSeconds: 3600 + i, heartbeatAgeSeconds: 12, heartbeat: { status: 'ready', code: 0, message: 'ok' }, restarts: i % 3,
      lastOperation: { name: 'enable', result: 'succeeded', exitCode: 0, startedAt: '2025-01-01T00:00:00.000Z', endedAt: '2025-01-01T00:00:01.000Z' },
      extensions: [{ name: `ext${i}`, sequenceNumber: 3, status: 'success', code: 0, message: 'Enable succeeded', substatus: [] }],
    });
  }
  return rows;
}

/** Resolves when `predicate` holds, polling every few ms; rejects after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A client that speaks raw lines, to send what the real client never would. */
export class RawClient {
  readonly lines: unknown[] = [];
  closed = false;
  private buffer = '';
  private waiters: Array<() => void> = [];
  readonly whenClosed: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      this.buffer += text;
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) !== -1) {
        this.lines.push(JSON.parse(this.buffer.slice(0, nl)));
        this.buffer = this.buffer.slice(nl + 1);
      }
      this.wake();
    });
    socket.on('error', () => undefined); // EPIPE/ECONNRESET after the server hung up are expected here
    this.whenClosed = new Promise((resolve) => socket.once('close', () => { this.closed = true; this.wake(); resolve(); }));
  }

  static connect(path: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = createConnection(path);
      socket.once('connect', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Connects and completes the handshake. */
  static async greeted(path: string): Promise<RawClient> {
    const raw = await RawClient.connect(path);
    raw.send({ id: 0, method: 'hello', params: { protocol: 1, client: 'raw-test' } });
    const hello = await raw.next() as { ok: boolean };
    if (hello.ok !== true) throw new Error(`handshake failed: ${JSON.stringify(hello)}`);
    return raw;
  }

  send(message: unknown): void {
    this.socket.write(typeof message === 'string' ? message : `${JSON.stringify(message)}\n`);
  }

  /** The next message from the server (in order), or an error if the connection closes first. */
  async next(timeoutMs = 10_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      if (this.closed) throw new Error('connection closed before a message arrived');
      if (Date.now() > deadline) throw new Error('no message within the timeout');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
    return this.lines.shift() as Record<string, unknown>;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

/** A server in another process killed with SIGKILL: it leaves its socket file behind, as a crashed daemon does. */
export async function leaveStaleSocket(socketPath: string): Promise<void> {
  const { spawn } = await import('node:child_process');
  const old = spawn(process.execPath, ['-e', `require('net').createServer().listen(process.argv[1], () => console.log('up'))`, socketPath],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => old.stdout!.once('data', () => resolve()));
  const gone = new Promise<void>((resolve) => old.once('exit', () => resolve()));
  old.kill('SIGKILL');
  await gone;
}
