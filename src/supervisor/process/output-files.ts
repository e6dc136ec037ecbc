/** The stdout/stderr files a command writes, opened for it (by the supervisor or its spawner). */
import { closeSync, constants as fsConstants, openSync } from 'node:fs';

// Created or truncated. O_APPEND: when the output is cut down to size while a daemon still
// writes it, its next write lands at the new end instead of leaving a hole the size of what was cut.
export const OUTPUT_FLAGS = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_TRUNC | fsConstants.O_APPEND;
export const OUTPUT_MODE = 0o600;

/** Opens both files; one fd when both name the same file, so writes do not overwrite each other. */
export function openOutputs(stdoutFile: string, stderrFile: string): [number, number] {
  const out = openSync(stdoutFile, OUTPUT_FLAGS, OUTPUT_MODE);
  if (stderrFile === stdoutFile) return [out, out];
  try {
    return [out, openSync(stderrFile, OUTPUT_FLAGS, OUTPUT_MODE)];
  } catch (err) {
    closeSync(out);
    throw err;
  }
}

/** Closes what openOutputs opened (once the child has its own copies). */
export function closeOutputs([outFd, errFd]: [number, number]): void {
  closeSync(outFd);
  if (errFd !== outFd) closeSync(errFd);
}
