/**
 * Reads a goal state from a file or an http(s) URL. URLs are fetched with If-None-Match so an
 * unchanged document costs a 304; every failure is a typed error naming the source. A URL's body
 * is capped while it streams, counted after decoding, so neither a chunked stream without a
 * Content-Length nor a gzip bomb is ever held in memory past the cap. A URL is named redacted
 * (query values hidden) everywhere, the document's `source` included: a SAS token must not reach
 * the status report, sessions or logs.
 */
import { readFile } from 'node:fs/promises';
import { SupervisorError } from '../../core/errors.js';
import { redactUrl, redactUrls } from '../../core/redact.js';
import { parseGoalState, type GoalState } from './goal-state.js';

export type GoalFetch =
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'goal'; readonly goal: GoalState; readonly httpEtag: string | null };

/** The largest goal state read from a URL, in bytes after decoding (CONTRACT section 2). */
export const GOAL_STATE_MAX_BYTES = 16 * 1024 * 1024;

export function isUrl(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

/** Fetches once; `httpEtag` is the ETag of the last document seen (URL sources only). */
export async function fetchGoalState(source: string, httpEtag: string | null, opts: { timeoutMs?: number; maxBytes?: number } = {}): Promise<GoalFetch> {
  const maxBytes = opts.maxBytes ?? GOAL_STATE_MAX_BYTES;
  if (!isUrl(source)) {
    let text: string;
    try {
      text = await readFile(source, 'utf8');
    } catch (err) {
      throw new SupervisorError('E_GOAL_STATE_READ', `cannot read goal state ${source}: ${(err as Error).message}`, { source }, { cause: err });
    }
    return { kind: 'goal', goal: parseGoalState(text, source), httpEtag: null };
  }
  const shown = redactUrl(source);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (httpEtag) headers['if-none-match'] = httpEtag;
  let res: Response;
  try {
    res = await fetch(source, { headers, signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000), redirect: 'follow' });
  } catch (err) {
    // fetch's message and its cause may quote the URL whole: the message is redacted, the cause left out.
    throw new SupervisorError('E_GOAL_STATE_READ', `cannot fetch goal state ${shown}: ${redactUrls((err as Error).message)}`, { source: shown });
  }
  if (res.status === 304) {
    await res.body?.cancel();
    return { kind: 'unchanged' };
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new SupervisorError('E_GOAL_STATE_READ', `cannot fetch goal state ${shown}: HTTP ${res.status}`, { source: shown, status: res.status });
  }
  const length = Number(res.headers.get('content-length') ?? 0);
  if (length > maxBytes) {
    await res.body?.cancel();
    throw new SupervisorError('E_GOAL_STATE_READ', `goal state ${shown} is ${length} bytes, over the ${maxBytes} byte limit`, { source: shown });
  }
  const text = await readBodyCapped(res, maxBytes, shown);
  return { kind: 'goal', goal: parseGoalState(text, shown), httpEtag: res.headers.get('etag') };
}

/**
 * The body as text (UTF-8, as Response.text() decodes it), its bytes counted after fetch has undone
 * any Content-Encoding; the first chunk past `maxBytes` cancels the stream, which drops the connection.
 * Throws E_GOAL_STATE_READ then; a failed read rejects with fetch's own error.
 */
export async function readBodyCapped(res: Response, maxBytes: number, source: string): Promise<string> {
  if (res.body === null) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw new SupervisorError('E_GOAL_STATE_READ',
        `goal state ${source} is over the ${maxBytes} byte limit (read stopped at ${total} bytes, counted after decoding)`,
        { source, limit: maxBytes, bytesRead: total });
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(Buffer.concat(chunks, total));
}
