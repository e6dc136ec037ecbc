/**
 * What execve would refuse, checked before a command goes through the cgroup-entering shell: there
 * a program that cannot run would be the shell's exit 126/127, indistinguishable from the
 * program's own; here it stays a spawn failure with the errno, as a direct spawn reports it.
 */
import { accessSync, closeSync, constants, openSync, readSync } from 'node:fs';

export function checkExecutable(file: string): void {
  accessSync(file, constants.X_OK);
  const head = Buffer.alloc(256);
  const fd = openSync(file, 'r');
  let n: number;
  try {
    n = readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  if (n < 2 || head[0] !== 0x23 || head[1] !== 0x21) return; // not `#!`: the kernel decides (ELF, or ENOEXEC -> sh)
  const line = head.toString('latin1', 2, n).split('\n')[0]!.trim();
  const interpreter = line.split(/[ \t]/)[0] ?? '';
  if (interpreter === '') return;
  try {
    accessSync(interpreter, constants.X_OK);
  } catch (err) {
    const e = new Error(`${(err as NodeJS.ErrnoException).code ?? 'ENOENT'}: ${file}: bad interpreter ${interpreter}`) as NodeJS.ErrnoException;
    e.code = 'ENOENT';
    throw e;
  }
}
