/**
 * The systemd notify protocol (sd_notify(3)) for `Type=notify`: READY=1 once the control socket
 * listens, STOPPING=1 on stop, WATCHDOG=1 at half of WATCHDOG_USEC from an event-loop timer, so a
 * blocked loop stops the pings and systemd restarts the daemon. Node core has no AF_UNIX datagram
 * socket, so each message is sent by `systemd-notify --pid=<our pid>`: as root it sends our pid as
 * the sender's credentials, so systemd credits the message to the main pid (docs/decisions.md,
 * "A daemon systemd can watch").
 */
import { execFile } from 'node:child_process';

export interface SdNotifier {
  /** READY=1 (and a STATUS= line): the daemon serves its control socket. */
  ready(status: string): void;
  /** STOPPING=1: a graceful stop began. */
  stopping(status: string): void;
  /** Stops the watchdog pings; idempotent. */
  close(): void;
}

export interface SdNotifyOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly pid?: number;
  /** Told once when a message cannot be sent (systemd-notify missing, socket gone...). */
  readonly onError: (message: string) => void;
  /** The sender program (tests); default `systemd-notify` from PATH. */
  readonly command?: string;
}

/** A hung systemd-notify must not pile up: it is killed after this long. */
const SEND_TIMEOUT_MS = 10_000;

/** The watchdog interval to ping at (ms), or null when systemd watches nothing or watches another pid. */
export function watchdogPingMs(env: NodeJS.ProcessEnv, pid: number): number | null {
  const usec = Number(env.WATCHDOG_USEC ?? '');
  if (!Number.isSafeInteger(usec) || usec <= 0) return null;
  const watched = env.WATCHDOG_PID;
  if (watched !== undefined && watched !== '' && Number(watched) !== pid) return null;
  return Math.max(1, Math.floor(usec / 2000));
}

/** A notifier for this process; every call does nothing when NOTIFY_SOCKET is not set (not run by systemd). */
export function systemdNotifier(opts: SdNotifyOptions): SdNotifier {
  const env = opts.env ?? process.env;
  const pid = opts.pid ?? process.pid;
  const socket = env.NOTIFY_SOCKET;
  if (!socket) return { ready() {}, stopping() {}, close() {} };
  const command = opts.command ?? 'systemd-notify';
  let reported = false;
  let inFlight = 0;
  const send = (lines: readonly string[]): void => {
    inFlight += 1;
    // --no-block: no BARRIER=1 round trip, which systemd would refuse from a pid other than the main one.
    execFile(command, ['--no-block', `--pid=${pid}`, ...lines], { env: { ...env, NOTIFY_SOCKET: socket }, timeout: SEND_TIMEOUT_MS },
      (err, _stdout, stderr) => {
        inFlight -= 1;
        if (err && !reported) {
          reported = true;
          opts.onError(`systemd notify (${lines.join(' ')}) failed: ${String(stderr).trim() || err.message}`);
        }
      });
  };
  const pingMs = watchdogPingMs(env, pid);
  let timer: NodeJS.Timeout | null = null;
  if (pingMs !== null) {
    // A ping still being sent is not doubled: a slow one must not turn into a fork storm.
    timer = setInterval(() => { if (inFlight === 0) send(['WATCHDOG=1']); }, pingMs);
    timer.unref();
  }
  return {
    ready: (status) => send(['READY=1', `STATUS=${status}`]),
    stopping: (status) => send(['STOPPING=1', `STATUS=${status}`]),
    close: () => { if (timer) clearInterval(timer); timer = null; },
  };
}
