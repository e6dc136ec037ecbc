/**
 * Reads a goal state from a file or an http(s) URL. URLs are fetched with If-None-Match so an
 * unchanged document costs a 304; every failure is a typed error naming the source.
 */
import { readFile } from 'node:fs/promises';
import { SupervisorError } from '../../core/errors.js';
import { parseGoalState, type GoalState } from './goal-state.js';

export type GoalFetch =
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'goal'; readonly goal: GoalState; readonly httpEtag: string | null };

export function isUrl(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

/** Fetches once; `httpEtag` is the ETag of the last document seen (URL sources only). */
export async function fetchGoalState(source: string, httpEtag: string | null, opts: { timeoutMs?: number; maxBytes?: number } = {}): Promise<GoalFetch> {
  const maxBytes = opts.maxBytes ?? 16 * 1024 * 1024;
  if (!isUrl(source)) {
    let text: string;
    try {
      text = await readFile(source, 'utf8');
    } catch (err) {
      throw new SupervisorError('E_GOAL_STATE_READ', `cannot read goal state ${source}: ${(err as Error).message}`, { source }, { cause: err });
    }
    return { kind: 'goal', goal: parseGoalState(text, source), httpEtag: null };
  }
  const headers: Record<string, string> = { accept: 'application/json' };
  if (httpEtag) headers['if-none-match'] = httpEtag;
  let res: Response;
  try {
    res = await fetch(source, { headers, signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000), redirect: 'follow' });
  } catch (err) {
    throw new SupervisorError('E_GOAL_STATE_READ', `cannot fetch goal state ${source}: ${(err as Error).message}`, { source }, { cause: err });
  }
  if (res.status === 304) {
    await res.body?.cancel();
    return { kind: 'unchanged' };
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new SupervisorError('E_GOAL_STATE_READ', `cannot fetch goal state ${source}: HTTP ${res.status}`, { source, status: res.status });
  }
  const length = Number(res.headers.get('content-length') ?? 0);
  if (length > maxBytes) {
    await res.body?.cancel();
    throw new SupervisorError('E_GOAL_STATE_READ', `goal state ${source} is ${length} bytes, over the ${maxBytes} byte limit`, { source });
  }
  const text = await res.text();
  if (text.length > maxBytes) throw new SupervisorError('E_GOAL_STATE_READ', `goal state ${source} is over the ${maxBytes} byte limit`, { source });
  return { kind: 'goal', goal: parseGoalState(text, source), httpEtag: res.headers.get('etag') };
}
