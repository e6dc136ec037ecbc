/** `supervisor pack DIR [-o FILE]`: builds a package and prints its sha256 like sha256sum does. */
import { packDirectory } from '../supervisor/packages/pack.js';

/** Runs the pack command; returns the exit code (0, or 2 when the folder or the output is refused). */
export async function packCommand(dir: string, opts: { output?: string }, io: { stdout(s: string): void; stderr(s: string): void }):
  Promise<number> {
  try {
    const result = await packDirectory(dir, opts.output);
    io.stdout(`${result.sha256}  ${result.file}\n`);
    return 0;
  } catch (err) {
    // File-system errors (permissions, a vanished file) are input problems here too.
    const message = err instanceof Error ? err.message : String(err);
    io.stderr(`supervisor pack: ${message}\n`);
    return 2;
  }
}
