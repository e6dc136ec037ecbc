/**
 * The supervisor's own log: `<log>/supervisor.log` as JSON lines (time, level, handler,
 * operation, message, fields), rotated by size, and a human-readable copy on stderr when run
 * in the foreground (coloured on a TTY). Protected settings never reach it: nothing logs them.
 * URLs in a line lose their query values (a goal-state or report URL may carry a token), and the
 * files are 0600: the log is the supervisor's, not every local user's.
 */
import winston from 'winston';
import { chmodSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { redactUrls } from '../../core/redact.js';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

export interface SupervisorLogger {
  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void;
  close(): Promise<void>;
}

export interface LoggerOptions {
  readonly logDir: string;
  readonly level?: LogLevel;
  /** Also write human-readable lines to stderr (foreground). */
  readonly console?: boolean;
  readonly tty?: boolean;
  /** Rotate supervisor.log at this size (default 10 MB), keeping `maxFiles` (default 5). */
  readonly maxBytes?: number;
  readonly maxFiles?: number;
}

/** `time` first, as log shippers expect it (winston's own timestamp format would add a second key). */
const stampTime = winston.format((info) => Object.assign({ time: new Date().toISOString() }, info));

/** Every string of a line, message and fields alike, with its URLs redacted. */
const redactLine = winston.format((info) => {
  const fields = info as Record<string, unknown>;
  for (const [k, v] of Object.entries(fields)) if (typeof v === 'string') fields[k] = redactUrls(v);
  return info;
});

/** supervisor.log and its rotated copies (winston names them supervisor1.log, ...). */
const LOG_FILE = /^supervisor\d*\.log$/;

/** Log files an older version (or an operator) left readable by others become 0600 before anything is added. */
function tightenModes(logDir: string): void {
  let names: string[];
  try { names = readdirSync(logDir); } catch { return; }
  for (const name of names.filter((n) => LOG_FILE.test(n))) {
    const path = join(logDir, name);
    try {
      const st = statSync(path);
      if (st.isFile() && (st.mode & 0o077) !== 0) chmodSync(path, 0o600);
    } catch { /* gone meanwhile, or not ours: the transport reports what matters */ }
  }
}

export function createLogger(opts: LoggerOptions): SupervisorLogger {
  tightenModes(opts.logDir);
  const transports: winston.transport[] = [
    new winston.transports.File({
      filename: join(opts.logDir, 'supervisor.log'),
      // Passed to createWriteStream: a new file (the first, or one begun by a rotation) is created 0600.
      options: { flags: 'a', mode: 0o600 },
      maxsize: opts.maxBytes ?? 10 * 1024 * 1024,
      maxFiles: opts.maxFiles ?? 5,
      tailable: true,
      format: winston.format.combine(stampTime(), winston.format.json()),
    }),
  ];
  if (opts.console) {
    transports.push(new winston.transports.Console({
      stderrLevels: [...LOG_LEVELS],
      format: winston.format.combine(
        winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
        ...(opts.tty ? [winston.format.colorize()] : []),
        winston.format.printf((info) => {
          const { level, message, timestamp, ...rest } = info as Record<string, unknown>;
          // The message already names handler, operation, version and result, and any field whose text it quotes
          // ("isolation: marks only", field isolation=marks only): the console shows the rest.
          const text = String(message);
          const extra = Object.entries(rest).filter(([k, v]) => !['time', 'handler', 'operation', 'version', 'result'].includes(k)
            && !(typeof v === 'string' && v !== '' && text.includes(v)))
            .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
          return `${String(timestamp)} ${String(level)} ${String(message)}${extra ? ` ${extra}` : ''}`;
        }),
      ),
    }));
  }
  const logger = winston.createLogger({ level: opts.level ?? 'info', format: redactLine(), transports, exitOnError: false });
  return {
    log: (level, message, fields) => { logger.log(level, message, fields ?? {}); },
    close: () => new Promise<void>((resolve) => {
      logger.on('finish', () => resolve());
      logger.end();
      setTimeout(resolve, 2000).unref();
    }),
  };
}
