/** `supervisor run`: starts the daemon in the foreground and stops it gracefully on SIGTERM/SIGINT. */
import { resolve } from 'node:path';
import { EXIT, type CliIO } from './io.js';
import { dirsOf, type DirFlags } from './connect.js';

export interface RunFlags extends DirFlags {
  readonly goalState: string;
  readonly pollInterval: number;
  readonly concurrency: number;
  readonly installConcurrency: number;
  readonly killGrace: number;
  readonly stopGrace: number;
  readonly reportUrl?: string;
  readonly httpListen?: string;
  /** Alias of httpListen. */
  readonly metricsListen?: string;
  readonly httpTokenFile?: string;
  readonly logLevel: 'error' | 'warn' | 'info' | 'debug';
  readonly sampleInterval: number;
  readonly outputMax: number;
  readonly outputKeep: number;
  /** --cgroup-root: where the supervisor's cgroup subtree lives. */
  readonly cgroupRoot?: string;
  /** --no-cgroups: processes found by marks only. */
  readonly cgroups?: boolean;
  readonly certificatesFolder?: string;
}

export async function runCommand(flags: RunFlags, io: CliIO): Promise<number> {
  const [{ Daemon }, { createLogger }, { ensureDir }, { startControlServer }, { resolveListen }, { readTokenFile }] = await Promise.all([
    import('../supervisor/daemon/daemon.js'), import('../supervisor/logging/logger.js'), import('../storage/dirs.js'),
    import('../ipc/server.js'), import('../supervisor/http/listen.js'), import('./http-token.js')]);
  let http: { listen: { host: string; port: number }; token: string | null } | null;
  try {
    // Checked before anything starts: a bad flag or token file is a usage error naming it.
    const token = flags.httpTokenFile !== undefined ? await readTokenFile(flags.httpTokenFile) : null;
    const listen = resolveListen(flags, token !== null);
    http = listen ? { listen, token } : null;
  } catch (err) {
    io.stderr(`supervisor run: ${(err as Error).message}\n`);
    return EXIT.usage;
  }
  const dirs = dirsOf(flags);
  await ensureDir(dirs.logDir, 0o700);
  const { configureIsolation } = await import('../supervisor/process/cgroup/index.js');
  configureIsolation({ mode: flags.cgroups === false || process.env['EXT_SUPERVISOR_ISOLATION'] === 'marks' ? 'marks' : 'auto', moveSelf: true,
    ...(flags.cgroupRoot !== undefined ? { root: flags.cgroupRoot } : {}) });
  const logger = createLogger({ logDir: dirs.logDir, level: flags.logLevel, console: true, tty: Boolean(process.stderr.isTTY) && !process.env['NO_COLOR'] });
  // Any listener keeps Node from opening its inspector on 127.0.0.1:9229, in a root daemon; from start-up on.
  const onUsr1 = (): void => { logger.log('info', 'SIGUSR1 received: ignored (no debugger is opened)'); };
  process.on('SIGUSR1', onUsr1);
  let daemon;
  try {
    daemon = await Daemon.start({
      dirs, goalSource: flags.goalState, pollIntervalSec: flags.pollInterval, concurrency: flags.concurrency,
      installConcurrency: flags.installConcurrency, graceMs: flags.killGrace * 1000, stopGraceMs: flags.stopGrace * 1000,
      sampleIntervalMs: flags.sampleInterval * 1000, http,
      outputMaxBytes: flags.outputMax, outputKeep: flags.outputKeep,
      ...(flags.reportUrl ? { reportUrl: flags.reportUrl } : {}),
      ...(flags.certificatesFolder ? { certificatesFolder: resolve(flags.certificatesFolder) } : {}),
      log: (level, message, fields) => logger.log(level, message, fields),
      serveControl: (handlers, where) => startControlServer({ ...where, handlers, log: (line) => logger.log('info', line) }),
    });
  } catch (err) {
    const e = err as { code?: string; message?: string };
    io.stderr(`supervisor run: ${e.message ?? String(err)}\n`);
    process.off('SIGUSR1', onUsr1);
    await logger.close();
    return ['E_LOCKED', 'E_SOCKET_IN_USE', 'E_USAGE', 'E_HTTP_LISTEN', 'E_INVALID_REPORT_URL'].includes(e.code ?? '') ? EXIT.usage : EXIT.notReached;
  }
  const onSignal = (signal: string) => (): void => { void daemon.stop(`${signal} received`); };
  const onTerm = onSignal('SIGTERM');
  const onInt = onSignal('SIGINT');
  // SIGHUP reloads the goal state, as daemons do (it used to end the process, leaving the socket and lock behind).
  const onHup = (): void => {
    void daemon.reload('SIGHUP received').then((r) => logger.log(r.outcome === 'error' ? 'warn' : 'info', `reload: ${r.message}`), () => {});
  };
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  process.on('SIGHUP', onHup);
  await daemon.done;
  process.off('SIGTERM', onTerm);
  process.off('SIGINT', onInt);
  process.off('SIGHUP', onHup);
  process.off('SIGUSR1', onUsr1);
  await logger.close();
  return EXIT.ok;
}
