/**
 * The status page's files, served from the package's `web/` folder: a known content type per
 * extension, no path outside the folder (no `..`, no symlink leading out), revalidated on each
 * load (`Cache-Control: no-cache` with an ETag and Last-Modified), so an upgrade shows at once.
 */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { extname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** `<package>/web`: the same relative path from src/supervisor/http and dist/supervisor/http. */
export const WEB_DIR = fileURLToPath(new URL('../../../web', import.meta.url));

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

export type StaticOutcome = 'served' | 'not found' | 'bad path';

/** The file under `root` a URL path names, or null when it names none (decoded, `/` is index.html). */
function relativeFile(urlPath: string): string[] | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const parts = decoded.split('/').filter((p) => p !== '');
  // Hidden files and any dot segment are never served: `..` could only climb out.
  if (parts.some((p) => p.startsWith('.'))) return null;
  return parts.length === 0 ? ['index.html'] : parts;
}

/**
 * Serves `urlPath` from `root`; answers nothing and returns 'not found'/'bad path' when there is no
 * such file, so the caller sends its own 404. `headers` (security headers) go on every answer.
 */
export async function serveStatic(root: string, urlPath: string, req: IncomingMessage, res: ServerResponse,
  headers: Readonly<Record<string, string>>): Promise<StaticOutcome> {
  const parts = relativeFile(urlPath);
  if (!parts) return 'bad path';
  let file: string;
  let size: number;
  let mtimeMs: number;
  try {
    const realRoot = await realpath(root);
    // Resolve symlinks, then insist the file is still inside the folder.
    file = await realpath(join(realRoot, ...parts));
    if (!file.startsWith(realRoot + sep)) return 'bad path';
    const st = await stat(file);
    if (!st.isFile()) return 'not found';
    ({ size, mtimeMs } = st);
  } catch {
    return 'not found';
  }
  const etag = `W/"${size.toString(16)}-${Math.floor(mtimeMs).toString(16)}"`;
  const lastModified = new Date(Math.floor(mtimeMs / 1000) * 1000).toUTCString();
  const common = { ...headers, 'Cache-Control': 'no-cache', ETag: etag, 'Last-Modified': lastModified };
  const inm = req.headers['if-none-match'];
  const ims = req.headers['if-modified-since'];
  const fresh = inm !== undefined ? inm.split(',').some((t) => t.trim() === etag)
    : ims !== undefined && Date.parse(ims) >= Math.floor(mtimeMs / 1000) * 1000;
  if (fresh) {
    res.writeHead(304, common);
    res.end();
    return 'served';
  }
  res.writeHead(200, { ...common, 'Content-Type': TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream', 'Content-Length': String(size) });
  if (req.method === 'HEAD') {
    res.end();
    return 'served';
  }
  await new Promise<void>((resolve) => {
    const stream = createReadStream(file);
    stream.on('error', () => { res.destroy(); resolve(); });
    res.on('close', () => { stream.destroy(); resolve(); });
    stream.pipe(res);
  });
  return 'served';
}
