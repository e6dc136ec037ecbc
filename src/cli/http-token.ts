/**
 * `--http-token-file FILE`: the bearer token the HTTP server asks of every request. Read from a
 * file only its owner may read (as ssh refuses a shared key, and as `--goal-state-url-file` is read),
 * never from the command line, which every local user sees in /proc/<pid>/cmdline.
 */
import { readFile, stat } from 'node:fs/promises';
import { SupervisorError } from '../core/errors.js';

const FLAG = '--http-token-file';

function usage(file: string, reason: string): SupervisorError {
  return new SupervisorError('E_USAGE', `${FLAG} ${file}: ${reason}`, { flag: FLAG, file });
}

/** The token on the file's first line, trimmed; E_USAGE naming the file when it is unreadable, shared or empty. The token never appears in a message. */
export async function readTokenFile(file: string): Promise<string> {
  let text: string;
  let mode: number;
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new Error('not a regular file');
    mode = st.mode;
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw usage(file, (err as Error).message);
  }
  if ((mode & 0o077) !== 0) {
    throw usage(file, `group or others may access it (mode 0${(mode & 0o777).toString(8)}); chmod 600 it`);
  }
  const token = text.split('\n')[0]!.trim();
  if (token === '') throw usage(file, 'empty (expected the bearer token on its first line)');
  if (/\s/.test(token)) throw usage(file, 'the token on its first line holds white space (an Authorization header cannot carry it)');
  return token;
}
