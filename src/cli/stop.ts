/** `supervisor stop`: asks the daemon to stop gracefully and waits until it has. */
import { access } from 'node:fs/promises';
import { EXIT, type CliIO } from './io.js';
import { dirsOf, socketPath, tryConnect, type DirFlags } from './connect.js';

export async function stopCommand(flags: DirFlags & { timeout: number }, io: CliIO): Promise<number> {
  const dirs = dirsOf(flags);
  const client = await tryConnect(dirs);
  if (!client) {
    io.stderr(`supervisor stop: no daemon is running on ${dirs.libDir}\n`);
    return EXIT.noDaemon;
  }
  const pid = client.server.pid;
  try { await client.call('stop', {}); } finally { await client.close(); }
  const until = Date.now() + flags.timeout * 1000;
  // The socket goes when the daemon has finished stopping.
  while (Date.now() < until) {
    if (!(await access(socketPath(dirs)).then(() => true, () => false))) {
      io.stdout(`supervisor (pid ${pid}) stopped\n`);
      return EXIT.ok;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  io.stderr(`supervisor stop: pid ${pid} is still stopping after ${flags.timeout} s\n`);
  return EXIT.notReached;
}
