/**
 * The raw stdout/stderr files of commands are bounded: a daemon that `enable` left running keeps
 * writing the enable's files forever. Over the cap, a file is cut down to its last part, with
 * a line saying so (the writers hold it O_APPEND, so they go on at the new end).
 */
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { openRegular, rewriteRegular } from '../../storage/handler-file.js';

export const OUTPUT_MAX_BYTES = 8 * 1024 * 1024;
export const OUTPUT_KEEP_BYTES = 256 * 1024;

async function tailBytes(file: string, size: number, keep: number): Promise<Buffer> {
  const { handle: fh } = await openRegular(file);
  try {
    const len = Math.min(keep, size);
    const buf = Buffer.alloc(len);
    const { bytesRead } = await fh.read(buf, 0, len, size - len);
    // Start at a line boundary, so the kept part reads cleanly.
    const cut = buf.subarray(0, bytesRead);
    const nl = cut.indexOf(0x0a);
    return nl >= 0 && nl < cut.length - 1 ? cut.subarray(nl + 1) : cut;
  } finally {
    await fh.close();
  }
}

/** The *.stdout / *.stderr files in `folder` over `maxBytes`, with their sizes. */
export function oversizedOutputs(folder: string, maxBytes = OUTPUT_MAX_BYTES): { file: string; size: number }[] {
  // Synchronous: a listing and a stat per file of a small local folder, for every handler every
  // 30 s; through the thread pool these were ~1 % of a core at 1000 handlers (docs/decisions.md).
  let names: string[];
  try { names = readdirSync(folder); } catch { return []; }
  const over: { file: string; size: number }[] = [];
  for (const name of names) {
    if (!name.endsWith('.stdout') && !name.endsWith('.stderr')) continue;
    const file = join(folder, name);
    let size = 0;
    // lstat: a link or FIFO planted here is not the supervisor's output and is never cut (nor followed).
    try { const st = lstatSync(file); size = st.isFile() ? st.size : 0; } catch { /* gone meanwhile: nothing to cut */ }
    if (size > maxBytes) over.push({ file, size });
  }
  return over;
}

/** Cuts every *.stdout / *.stderr in `folder` that is over `maxBytes`; returns the files cut. */
export async function boundOutputs(folder: string, maxBytes = OUTPUT_MAX_BYTES, keepBytes = OUTPUT_KEEP_BYTES): Promise<string[]> {
  const cut: string[] = [];
  for (const { file, size } of oversizedOutputs(folder, maxBytes)) {
    const kept = await tailBytes(file, size, keepBytes);
    await rewriteRegular(file, Buffer.concat([Buffer.from(`[ext-supervisor: ${size - kept.length} earlier bytes cut; this file is kept under ${maxBytes} bytes]\n`), kept]));
    cut.push(file);
  }
  return cut;
}
