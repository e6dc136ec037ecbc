/** `supervisor restart NAME...` and `supervisor retry NAME...`: ask the running daemon, print each step it took. */
import { EXIT, type CliIO } from './io.js';
import { existingDirsOf, tryConnect, type DirFlags } from './connect.js';

export type ControlVerb = 'restart' | 'retry';

/** 0 done, 1 an operation failed (the steps say which), 2 a name the daemon does not know, 3 no daemon (nothing done either way). */
export async function controlCommand(verb: ControlVerb, names: readonly string[], flags: DirFlags, io: CliIO): Promise<number> {
  const dirs = existingDirsOf(flags);
  const client = await tryConnect(dirs);
  if (!client) {
    io.stderr(`supervisor ${verb}: no daemon is running on ${dirs.libDir} (start it with supervisor run); nothing done\n`);
    return EXIT.noDaemon;
  }
  try {
    // Every name is checked before anything runs: a typo in the third name must not leave two restarted.
    const known = new Set((await client.call('ps', {})).map((r) => r.name));
    const unknown = names.filter((n) => !known.has(n));
    if (unknown.length > 0) {
      io.stderr(`supervisor ${verb}: no handler named ${unknown.map((n) => `"${n}"`).join(', ')}; nothing done\n`);
      return EXIT.usage;
    }
    for (const name of names) {
      const r = await client.call(verb, { name }, { timeoutMs: 24 * 3_600_000 });
      for (const step of r.steps) io.stdout(`${step}\n`);
      if (!r.ok) {
        io.stderr(`supervisor ${verb}: ${name} failed${names.length > 1 ? '; the names after it were not touched' : ''}\n`);
        return EXIT.notReached;
      }
    }
    return EXIT.ok;
  } catch (err) {
    const e = err as { code?: string; message?: string };
    io.stderr(`supervisor ${verb}: ${e.message ?? String(err)}\n`);
    return e.code === 'E_UNKNOWN_HANDLER' ? EXIT.usage : EXIT.notReached;
  } finally {
    await client.close();
  }
}
