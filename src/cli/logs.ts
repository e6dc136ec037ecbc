/** `supervisor logs NAME [--follow] [--lines N]`: the handler's CommandExecution.log. */
import { access } from 'node:fs/promises';
import { EXIT, type CliIO } from './io.js';
import { existingDirsOf, logDirFor, tryConnect, type DirFlags } from './connect.js';
import { commandLogPath } from '../supervisor/logging/command-log.js';
import { lastLines } from '../supervisor/logging/tail-lines.js';

export async function logsCommand(name: string, flags: DirFlags & { follow?: boolean; lines: number }, io: CliIO): Promise<number> {
  const dirs = existingDirsOf(flags);
  if (flags.follow) {
    const client = await tryConnect(dirs);
    if (!client) {
      io.stderr(`supervisor logs --follow: no daemon is running on ${dirs.libDir} (start it with supervisor run)\n`);
      return EXIT.noDaemon;
    }
    const stop = new AbortController();
    const onSignal = (): void => stop.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      const s = client.stream('followLogs', { name, lines: flags.lines }, (item) => io.stdout(`${(item as { line: string }).line}\n`));
      stop.signal.addEventListener('abort', () => s.cancel(), { once: true });
      await s.done;
    } catch (err) {
      if (!stop.signal.aborted) {
        io.stderr(`supervisor logs: ${(err as Error).message}\n`);
        return EXIT.usage;
      }
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await client.close();
    }
    return EXIT.ok;
  }
  // The daemon's log dir, not this command's default (as root that was /var/log even for a daemon run with --log-dir).
  const client = await tryConnect(dirs).catch(() => null);
  const logDir = logDirFor(flags, dirs, client);
  await client?.close();
  const file = commandLogPath(logDir, name);
  if (!(await access(file).then(() => true, () => false))) {
    io.stderr(`supervisor logs: no command log for "${name}" (${file})\n`);
    return EXIT.usage;
  }
  for (const line of await lastLines(file, flags.lines)) io.stdout(`${line}\n`);
  return EXIT.ok;
}
