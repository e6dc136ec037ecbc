/**
 * The daemon under systemd's notify protocol, against a real datagram socket named by
 * NOTIFY_SOCKET (bound by python3, as systemd would): READY=1 once the control socket listens,
 * WATCHDOG=1 pings, STOPPING=1 on stop; and SIGUSR1 opens no debugger.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Workspace } from '../helpers/handlers.js';
import { runCli, startCli } from '../helpers/cli.js';
import { dirFlags, waitFor } from '../helpers/daemon.js';
import { systemdNotifier, watchdogPingMs } from '../../src/supervisor/daemon/sd-notify.js';
import { handlerBaseEnv } from '../../src/supervisor/process/daemon-env.js';

/** Binds a datagram socket with SO_PASSCRED and prints "<sender pid>\t<message, lines joined by |>" per datagram. */
const LISTENER = `
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(sys.argv[1])
print("bound", flush=True)
while True:
    msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
    pid = 0
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", data[:12])[0]
    print(f"{pid}\\t{msg.decode().strip().replace(chr(10), '|')}", flush=True)
`;

interface Listener { readonly child: ChildProcess; readonly messages: Array<{ pid: number; text: string }>; close(): Promise<void> }

async function notifySocket(path: string): Promise<Listener> {
  const child = spawn('python3', ['-c', LISTENER, path], { stdio: ['ignore', 'pipe', 'pipe'] });
  const messages: Array<{ pid: number; text: string }> = [];
  let out = '';
  let bound = false;
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    let nl: number;
    while ((nl = out.indexOf('\n')) >= 0) {
      const line = out.slice(0, nl);
      out = out.slice(nl + 1);
      if (line === 'bound') { bound = true; continue; }
      const [pid, text = ''] = line.split('\t');
      messages.push({ pid: Number(pid), text });
    }
  });
  const exited = new Promise<void>((r) => child.on('close', () => r()));
  await waitFor(() => {
    if (child.exitCode !== null) throw new Error(`python3 listener exited: ${err}`);
    return bound;
  }, 30_000, 'the notify socket');
  return { child, messages, async close() { if (child.exitCode === null) child.kill('SIGKILL'); await exited; } };
}

describe('systemd notify protocol', () => {
  test('a real daemon: READY=1 after the control socket listens, watchdog pings, SIGUSR1 ignored, STOPPING=1 on stop', async () => {
    const ws = await Workspace.create('exts-sdnotify-');
    const socketPath = join(ws.root, 'notify.sock');
    const listener = await notifySocket(socketPath);
    let daemon: ReturnType<typeof startCli> | null = null;
    try {
      const goal = await ws.goalState({ handlers: [] });
      // A 0.4 s watchdog: a ping every 0.2 s.
      daemon = startCli(['run', '--goal-state', goal, ...dirFlags(ws), '--sample-interval', '0.5'],
        { NOTIFY_SOCKET: socketPath, WATCHDOG_USEC: '400000', WATCHDOG_PID: '' });
      const pid = daemon.child.pid!;
      await waitFor(() => listener.messages.some((m) => m.text.includes('READY=1')), 30_000, 'READY=1');
      const ready = listener.messages.find((m) => m.text.includes('READY=1'))!;
      assert.ok(existsSync(join(ws.libDir, 'supervisor.sock')), 'the control socket exists when READY=1 arrives');
      assert.ok(ready.text.split('|').includes(`MAINPID=${pid}`), ready.text);
      if (process.getuid?.() === 0) assert.equal(ready.pid, pid, 'as root, systemd-notify sends the daemon\'s pid as the sender');
      await waitFor(() => listener.messages.filter((m) => m.text.includes('WATCHDOG=1')).length >= 3, 30_000, 'three watchdog pings');

      daemon.child.kill('SIGUSR1');
      await waitFor(async () => (await daemonLog(ws)).includes('SIGUSR1 received'), 30_000, 'the SIGUSR1 log line');
      const refused = await new Promise<string>((resolve) => {
        const sock = connect(9229, '127.0.0.1');
        sock.on('connect', () => { sock.destroy(); resolve('connected'); });
        sock.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      });
      assert.equal(refused, 'ECONNREFUSED', 'no inspector listens on 127.0.0.1:9229');
      const ps = await runCli(['ps', '--json', ...dirFlags(ws)]);
      assert.equal(ps.code, 0, `the daemon still answers ps after SIGUSR1: ${ps.stderr}`);
      assert.equal(daemon.child.exitCode, null);

      daemon.child.kill('SIGTERM');
      const end = await daemon.done;
      assert.equal(end.code, 0, end.stderr);
      assert.doesNotMatch(end.stderr, /Debugger listening/);
      await waitFor(() => listener.messages.some((m) => m.text.includes('STOPPING=1')), 30_000, 'STOPPING=1');
      const order = listener.messages.map((m) => m.text);
      assert.ok(order.findIndex((t) => t.includes('READY=1')) < order.findIndex((t) => t.includes('STOPPING=1')));
    } finally {
      if (daemon && daemon.child.exitCode === null && daemon.child.signalCode === null) { daemon.child.kill('SIGKILL'); await daemon.done; }
      await listener.close();
      await ws.dispose();
    }
  });

  test('the watchdog interval: half of WATCHDOG_USEC, only for our pid', () => {
    assert.equal(watchdogPingMs({ WATCHDOG_USEC: '60000000' }, 42), 30_000);
    assert.equal(watchdogPingMs({ WATCHDOG_USEC: '60000000', WATCHDOG_PID: '42' }, 42), 30_000);
    assert.equal(watchdogPingMs({ WATCHDOG_USEC: '60000000', WATCHDOG_PID: '7' }, 42), null, 'systemd watches another process');
    assert.equal(watchdogPingMs({}, 42), null);
    assert.equal(watchdogPingMs({ WATCHDOG_USEC: 'soon' }, 42), null);
    assert.equal(watchdogPingMs({ WATCHDOG_USEC: '0' }, 42), null);
  });

  test('a notify socket that is gone is reported once, naming the message', async () => {
    const problems: string[] = [];
    const sd = systemdNotifier({ env: { ...process.env, NOTIFY_SOCKET: '/nonexistent/notify.sock' }, onError: (m) => problems.push(m) });
    sd.ready('one');
    sd.stopping('two');
    await waitFor(() => problems.length > 0, 30_000, 'the error');
    sd.close();
    assert.match(problems[0]!, /systemd notify \((READY|STOPPING)=1/);
  });

  test('handlers inherit neither the notify socket nor the watchdog', () => {
    const env = handlerBaseEnv({ PATH: '/bin', NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '1', WATCHDOG_PID: '1' });
    assert.deepEqual(env, { PATH: '/bin' });
  });
});

async function daemonLog(ws: Workspace): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  return readFile(join(ws.logDir, 'supervisor.log'), 'utf8').catch(() => '');
}
