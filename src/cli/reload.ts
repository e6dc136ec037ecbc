/** `supervisor reload`: the running daemon re-reads its goal-state file (or polls its URL) now; SIGHUP does the same. */
import { EXIT, type CliIO } from './io.js';
import { existingDirsOf, tryConnect, type DirFlags } from './connect.js';

/** 0 read (new or unchanged), 1 the source could not be read, 3 no daemon. */
export async function reloadCommand(flags: DirFlags, io: CliIO): Promise<number> {
  const dirs = existingDirsOf(flags);
  const client = await tryConnect(dirs);
  if (!client) {
    io.stderr(`supervisor reload: no daemon is running on ${dirs.libDir} (start it with supervisor run)\n`);
    return EXIT.noDaemon;
  }
  try {
    const r = await client.call('reload', {});
    if (r.outcome === 'error') {
      io.stderr(`supervisor reload: ${r.message}\n`);
      return EXIT.notReached;
    }
    io.stdout(`${r.message}\n`);
    return EXIT.ok;
  } finally {
    await client.close();
  }
}
