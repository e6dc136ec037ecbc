/** The stdout/stderr files a command writes, opened for it (by the supervisor or its spawner). */
import { closeSync } from 'node:fs';
import { openTruncatedSync } from '../../storage/handler-file.js';

// Created or emptied, opened O_APPEND: when the output is cut down to size while a daemon still
// writes it, its next write lands at the new end instead of leaving a hole the size of what was cut.
// The files are in the handler's folder: a FIFO or link planted there is refused (E_NOT_REGULAR_FILE)
// without blocking this process, and emptied only once it is known to be a regular file.
export const OUTPUT_MODE = 0o600;

/** Opens both files; one fd when both name the same file, so writes do not overwrite each other. */
export function openOutputs(stdoutFile: string, stderrFile: string): [number, number] {
  const out = openTruncatedSync(stdoutFile, OUTPUT_MODE);
  if (stderrFile === stdoutFile) return [out, out];
  try {
    return [out, openTruncatedSync(stderrFile, OUTPUT_MODE)];
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
