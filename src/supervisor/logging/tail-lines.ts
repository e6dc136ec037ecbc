/** `supervisor logs`: the last lines of a log file, and following it as it grows (rotation included). */
import { stat } from 'node:fs/promises';
import { openRegular } from '../../storage/handler-file.js';

const CHUNK = 64 * 1024;

/** The last `n` lines of a file (reads backwards in chunks; a missing file has none). */
export async function lastLines(file: string, n: number): Promise<string[]> {
  if (n <= 0) return [];
  const fh = await openRegular(file).then((o) => o.handle, () => null); // a FIFO or link planted as the log has no lines
  if (!fh) return [];
  try {
    const size = (await fh.stat()).size;
    let pos = size;
    let text = '';
    while (pos > 0 && text.split('\n').length <= n + 1) {
      const len = Math.min(CHUNK, pos);
      pos -= len;
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, pos);
      text = buf.toString('utf8') + text;
    }
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    return lines.slice(-n);
  } finally {
    await fh.close();
  }
}

/**
 * Calls onLine for every line appended to the file until the signal aborts. A file that
 * shrinks (rotated) is read again from its start; one that does not exist yet is waited for.
 * `fromStart`: a file found after following began is read from its first line.
 */
export async function followFile(file: string, onLine: (line: string) => void, signal: AbortSignal, pollMs = 250, fromStart = false): Promise<void> {
  let offset = fromStart ? 0 : await stat(file).then((s) => s.size, () => 0);
  let partial = '';
  while (!signal.aborted) {
    const size = await stat(file).then((s) => s.size, () => 0);
    if (size < offset) { offset = 0; partial = ''; }
    if (size > offset) {
      const fh = await openRegular(file).then((o) => o.handle, () => null); // a FIFO or link planted as the log has no lines
      if (fh) {
        try {
          const buf = Buffer.alloc(size - offset);
          const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
          offset += bytesRead;
          const lines = (partial + buf.subarray(0, bytesRead).toString('utf8')).split('\n');
          partial = lines.pop() ?? '';
          for (const line of lines) onLine(line);
        } finally {
          await fh.close();
        }
      }
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, pollMs);
      signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
    });
  }
}
