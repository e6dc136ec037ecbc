/**
 * Exit files: the shell of a command records its pid when it starts and its exit status when it
 * ends (from an EXIT trap), so a restarted supervisor, or one whose spawner died, can tell a
 * command that completed from one that was interrupted.
 */
import { readRegularFile } from '../../storage/handler-file.js';

/** Single-quotes a word for /bin/sh. */
export function shQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * Records the shell's pid in `<exitFile>.pid`, then runs the line under an EXIT trap that
 * writes its status to `exitFile`. Only builtins: no process is started for the bookkeeping.
 * The status is one short write, so a reader sees either nothing (an empty file: not ended,
 * or killed while writing it) or the whole number. The trap runs for `exit N` inside the line
 * too; only an `exec` of the shell itself skips it, which recovery treats as "status unknown".
 */
export function withExitFile(line: string, exitFile: string): string {
  const q = (t: string): string => shQuote(t).replace(/'/g, `'\\''`);
  return `printf '%s\\n' "$$" > ${shQuote(`${exitFile}.pid`)}\n`
    + `trap 'printf "%s\\n" "$?" > ${q(exitFile)}' EXIT\n${line}`;
}

/** The whole number in a pid or exit file; null when it is missing, empty, not a number, or not a regular file. */
export async function readExitFile(file: string): Promise<number | null> {
  const text = await readRegularFile(file, { maxBytes: 64 }).then((b) => b?.toString('utf8') ?? null, () => null);
  if (text === null || text.trim() === '') return null;
  const n = Number(text.trim());
  return Number.isInteger(n) ? n : null;
}
