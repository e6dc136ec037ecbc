import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { SupervisorError } from '../../core/errors.js';
import { PACKAGE_ERROR } from './limits.js';

export interface DownloadOptions {
  readonly maxBytes: number;
  readonly timeoutMs: number;
  readonly maxRedirects: number;
  readonly signal?: AbortSignal;
}

export interface DownloadResult {
  readonly bytes: number;
  /** Where the bytes came from after redirects. */
  readonly finalUri: string;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * Copies `uri` (file://, http://, https://) into `dest`, a new file (never overwritten).
 * Bounded in time (the whole download), in size (Content-Length and bytes actually received)
 * and in redirects. A partial `dest` is left for the caller to remove.
 */
export async function downloadToFile(uri: string, dest: string, opts: DownloadOptions): Promise<DownloadResult> {
  let url: URL;
  try { url = new URL(uri); } catch {
    throw new SupervisorError(PACKAGE_ERROR.download, 'not a valid uri', { uri });
  }
  if (opts.signal?.aborted) throw aborted(uri);
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), opts.timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout.signal]) : timeout.signal;
  try {
    const { body, finalUri, length } = url.protocol === 'file:' ? await openFile(url)
      : url.protocol === 'http:' || url.protocol === 'https:' ? await openHttp(url, opts.maxRedirects, signal)
        : fail(`unsupported uri scheme ${JSON.stringify(url.protocol)} (use file://, http:// or https://)`);
    if (length !== undefined && length > opts.maxBytes) {
      body.destroy();
      throw new SupervisorError(PACKAGE_ERROR.tooLarge, `package is ${length} bytes, over the ${opts.maxBytes} byte cap`,
        { uri, value: length, limit: opts.maxBytes });
    }
    let bytes = 0;
    const cap = new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        if (bytes > opts.maxBytes) {
          return done(new SupervisorError(PACKAGE_ERROR.tooLarge, `download passed the ${opts.maxBytes} byte cap`, { uri, limit: opts.maxBytes }));
        }
        done(null, chunk);
      },
    });
    await pipeline(body, cap, createWriteStream(dest, { flags: 'wx', mode: 0o600 }), { signal });
    return { bytes, finalUri };
  } catch (err) {
    if (opts.signal?.aborted) throw aborted(uri);
    if (timeout.signal.aborted) {
      throw new SupervisorError(PACKAGE_ERROR.download, `timed out after ${opts.timeoutMs} ms`, { uri, timeoutMs: opts.timeoutMs }, { cause: err });
    }
    if (err instanceof SupervisorError) throw err;
    throw new SupervisorError(PACKAGE_ERROR.download, (err as Error).message, { uri }, { cause: err });
  } finally {
    clearTimeout(timer);
  }
}

function aborted(uri: string): SupervisorError {
  return new SupervisorError(PACKAGE_ERROR.aborted, 'download aborted', { uri });
}

function fail(message: string): never {
  throw new SupervisorError(PACKAGE_ERROR.download, message);
}

interface Opened { body: Readable; finalUri: string; length: number | undefined }

async function openFile(url: URL): Promise<Opened> {
  const path = fileURLToPath(url);
  const st = await stat(path);
  if (!st.isFile()) fail(`${path} is not a regular file`);
  return { body: createReadStream(path), finalUri: url.href, length: st.size };
}

async function openHttp(start: URL, maxRedirects: number, signal: AbortSignal): Promise<Opened> {
  let url = start;
  for (let hop = 0; ; hop++) {
    const res = await get(url, signal);
    const status = res.statusCode ?? 0;
    if (REDIRECTS.has(status)) {
      res.resume();
      const location = res.headers.location;
      if (!location) fail(`HTTP ${status} redirect without a Location header from ${url.href}`);
      if (hop >= maxRedirects) fail(`more than ${maxRedirects} redirects (last to ${location})`);
      const next = new URL(location, url);
      if (next.protocol !== 'http:' && next.protocol !== 'https:') fail(`redirect to a non-http uri ${next.href} refused`);
      url = next;
      continue;
    }
    if (status < 200 || status > 299) {
      res.resume();
      fail(`HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}${url.href === start.href ? '' : ` from ${url.href}`}`);
    }
    const header = res.headers['content-length'];
    const length = header !== undefined && /^\d+$/.test(header) ? Number(header) : undefined;
    return { body: res, finalUri: url.href, length };
  }
}

function get(url: URL, signal: AbortSignal): Promise<http.IncomingMessage> {
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    // identity: the sha256 is of the bytes as published, not of a transfer encoding.
    const req = client.get(url, { signal, headers: { 'accept-encoding': 'identity', 'user-agent': 'ext-supervisor' } }, resolve);
    req.on('error', reject);
  });
}
