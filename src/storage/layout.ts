/** Where everything of one handler lives (CONTRACT sections 1 and 3). */
import { join } from 'node:path';
import type { SupervisorDirs } from './dirs.js';

export type { SupervisorDirs };

export interface HandlerPaths {
  readonly dir: string;
  readonly configFolder: string;
  readonly statusFolder: string;
  readonly heartbeatFile: string;
  readonly logFolder: string;
  readonly eventsFolder: string;
  readonly environmentFile: string;
  readonly manifestFile: string;
  /** Raw stdout/stderr of commands, one pair per operation, kept out of the package's own files. */
  readonly outputFolder: string;
}

export function handlerDir(dirs: SupervisorDirs, name: string, version: string): string {
  return join(dirs.libDir, `${name}-${version}`);
}

export function handlerPaths(dirs: SupervisorDirs, name: string, version: string): HandlerPaths {
  const dir = handlerDir(dirs, name, version);
  const logFolder = join(dirs.logDir, name);
  return {
    dir,
    configFolder: join(dir, 'config'),
    statusFolder: join(dir, 'status'),
    heartbeatFile: join(dir, 'heartbeat.log'),
    logFolder,
    eventsFolder: join(logFolder, 'events'),
    environmentFile: join(dir, 'HandlerEnvironment.json'),
    manifestFile: join(dir, 'HandlerManifest.json'),
    outputFolder: join(dir, '.supervisor'),
  };
}

/** Script-form handlers' work folder (Device Update `--work-folder`), shared by their versions. */
export function scriptWorkFolder(dirs: SupervisorDirs, name: string): string {
  return join(dirs.libDir, 'work', name);
}

/** Persisted lifecycle record of a handler. */
export function stateFile(dirs: SupervisorDirs, name: string): string {
  return join(dirs.libDir, 'state', `${name}.json`);
}

export function stateFolder(dirs: SupervisorDirs): string {
  return join(dirs.libDir, 'state');
}

/** Per-handler operation journals (`history/<name>.json`): what `ps` and `status` show after the daemon stops. */
export function historyFolder(libDir: string): string {
  return join(libDir, 'history');
}

/** Per-handler restart books (`restarts/<name>.json`): the heartbeat watchdog's budget survives a restart. */
export function restartsFolder(libDir: string): string {
  return join(libDir, 'restarts');
}

/**
 * `<lib>/log-dir`: the log dir the last daemon on this lib dir ran with, so a command without
 * --log-dir finds its logs when no daemon answers (issue 18: as root it looked under /var/log).
 */
export function logDirRecordFile(libDir: string): string {
  return join(libDir, 'log-dir');
}

/** The daemon's own log in the log dir (logging/logger.ts), beside the handlers' `<log>/<name>/` folders. */
export const DAEMON_LOG_FILE = 'supervisor.log';

// The log and its rotated copies (winston names them supervisor1.log, supervisor2.log, ...); any case,
// for a log dir on a case-insensitive file system.
const DAEMON_LOG_NAMES = /^supervisor\d*\.log$/i;

/**
 * Why `name` cannot be a handler's, or null. A handler's log folder is `<log>/<name>/`, so a handler
 * named like the daemon's log would collide with it. The lib dir needs no such rule: a handler dir is
 * `<name>-<version>` and none of the daemon's entries there ends with a version.
 */
export function reservedHandlerName(name: string): string | null {
  if (!DAEMON_LOG_NAMES.test(name)) return null;
  return `is reserved: <log dir>/${name} is the supervisor's own log (${DAEMON_LOG_FILE} and its rotated copies), where this handler's log folder would be`;
}
