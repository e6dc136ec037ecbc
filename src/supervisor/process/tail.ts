import { openRegular, withReadTimeout } from '../../storage/handler-file.js';
import { SupervisorError, showValue } from '../../core/errors.js';

/**
 * The last `maxBytes` of a file as text, starting at a UTF-8 character boundary, so an error
 * message can carry the end of a command's output; '' when the file does not exist.
 */
export async function readTail(file: string, maxBytes = 4096): Promise<string> {
  if (!Number.isInteger(maxBytes) || maxBytes < 0) {
    throw new SupervisorError('E_TAIL_OPTIONS', `readTail: maxBytes must be an integer >= 0 (got ${showValue(maxBytes)})`, { file, maxBytes });
  }
  return withReadTimeout(file, tailNow(file, maxBytes));
}

async function tailNow(file: string, maxBytes: number): Promise<string> {
  let handle, size;
  try {
    // The file is in the handler's folder: a FIFO or link there is refused without blocking.
    ({ handle, stats: { size } } = await openRegular(file));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw new SupervisorError('E_TAIL_READ', `cannot read the tail of ${file}: ${(err as Error).message}`, { file }, { cause: err });
  }
  try {
    const want = Math.min(size, maxBytes);
    if (want === 0) return '';
    const buf = Buffer.alloc(want);
    let got = 0;
    // The file may shrink while we read (truncated by a new run): stop at EOF.
    while (got < want) {
      const { bytesRead } = await handle.read(buf, got, want - got, size - want + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    let start = 0;
    // Skip continuation bytes (10xxxxxx) of a character cut by the window; at most 3 exist.
    if (size > want) {
      while (start < 3 && start < got && ((buf[start] ?? 0) & 0xc0) === 0x80) start += 1;
    }
    return buf.toString('utf8', start, got);
  } catch (err) {
    throw new SupervisorError('E_TAIL_READ', `cannot read the tail of ${file}: ${(err as Error).message}`, { file }, { cause: err });
  } finally {
    await handle.close();
  }
}
