/**
 * The supervisor's own log: `<log>/supervisor.log` as JSON lines (time, level, handler,
 * operation, message, fields), rotated by size, and a human-readable copy on stderr when run
 * in the foreground (coloured on a TTY). Protected settings never reach it: nothing logs them.
 */
import winston from 'winston';
import { join } from 'node:path';

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

export function createLogger(opts: LoggerOptions): SupervisorLogger {
  const transports: winston.transport[] = [
    new winston.transports.File({
      filename: join(opts.logDir, 'supervisor.log'),
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
          // The message already names handler, operation, version and result: the console shows the rest.
          const extra = Object.entries(rest).filter(([k]) => !['time', 'handler', 'operation', 'version', 'result'].includes(k))
            .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
          return `${String(timestamp)} ${String(level)} ${String(message)}${extra ? ` ${extra}` : ''}`;
        }),
      ),
    }));
  }
  const logger = winston.createLogger({ level: opts.level ?? 'info', transports, exitOnError: false });
  return {
    log: (level, message, fields) => { logger.log(level, message, fields ?? {}); },
    close: () => new Promise<void>((resolve) => {
      logger.on('finish', () => resolve());
      logger.end();
      setTimeout(resolve, 2000).unref();
    }),
  };
}
