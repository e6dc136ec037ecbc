/**
 * The goal-state source: watches a file (through the folder watcher) or polls a URL with
 * If-None-Match, and hands each new document to the daemon. An unchanged document `etag`
 * means nothing to do; an unreadable or invalid one is reported and the last good goal kept.
 */
import { basename, dirname, resolve } from 'node:path';
import type { Behavior, ActorContext } from '../../actors/actor.js';
import type { TimerId } from '../../core/clock.js';
import type { GoalState } from './goal-state.js';
import { fetchGoalState, isUrl } from './goal-fetch.js';

/** What one look at the source found (the answer to a reload). */
export type CheckOutcome =
  | { readonly kind: 'new'; readonly etag: string | null }
  | { readonly kind: 'unchanged'; readonly etag: string | null }
  | { readonly kind: 'error'; readonly message: string };

export type GoalSourceMessage =
  | { readonly type: 'check'; readonly reason: string; readonly reply?: (outcome: CheckOutcome) => void }
  | { readonly type: 'pollDue'; readonly gen: number }
  | { readonly type: 'recheckDue' };

/** chokidar drops a change that follows another within 50 ms: every file event is confirmed by one more look. */
const RECHECK_MS = 250;

export interface GoalSourceDeps {
  readonly source: string;
  /** Seconds between polls of a URL (CONTRACT default 60). */
  readonly pollIntervalSec: number;
  readonly watcher: { add(folder: string, listener: (e: { kind: string; path: string }) => void, onReady?: () => void): () => void };
  readonly onGoal: (goal: GoalState) => void;
  readonly onError: (err: unknown) => void;
  /** A file event (or reload) found the document's etag unchanged: said once, not ignored in silence. */
  readonly onUnchanged?: (reason: string, etag: string | null) => void;
  /** The file's watch is live: edits from now on are seen (said once). */
  readonly onWatching?: (file: string) => void;
}

export function goalSourceBehavior(deps: GoalSourceDeps): Behavior<GoalSourceMessage> {
  const url = isUrl(deps.source);
  let httpEtag: string | null = null;
  let lastEtag: string | null = null;
  let lastText: string | null = null;
  let unwatch: (() => void) | null = null;
  let timer: TimerId | null = null;
  let gen = 0;
  let recheck: TimerId | null = null;
  /** The last look found the file unreadable or invalid, not reported yet (see check). */
  let suspect = false;
  /** The file event whose outcome the confirming look says, when its own look met a passing error. */
  let pendingReason: string | null = null;

  function schedule(ctx: ActorContext<GoalSourceMessage>): void {
    if (!url) return;
    if (timer !== null) ctx.clock.clearTimeout(timer);
    const mine = ++gen;
    timer = ctx.clock.setTimeout(() => ctx.self.tell({ type: 'pollDue', gen: mine }), deps.pollIntervalSec * 1000);
  }

  function armRecheck(ctx: ActorContext<GoalSourceMessage>): void {
    if (recheck !== null) ctx.clock.clearTimeout(recheck);
    recheck = ctx.clock.setTimeout(() => ctx.self.tell({ type: 'recheckDue' }), RECHECK_MS);
  }

  function watchOnce(ctx: ActorContext<GoalSourceMessage>): void {
    if (url || unwatch) return;
    const file = resolve(deps.source);
    unwatch = deps.watcher.add(dirname(file), (e) => {
      if (basename(e.path) === basename(file)) ctx.self.tell({ type: 'check', reason: `${e.kind} ${file}` });
    }, () => {
      deps.onWatching?.(file);
      // An edit made while the watch was being set up made no event: one quiet look catches it.
      ctx.self.tell({ type: 'recheckDue' });
    });
  }

  /** One look at the source: a new document is delivered. */
  async function read(): Promise<CheckOutcome & { readonly err?: unknown }> {
    try {
      const got = await fetchGoalState(deps.source, httpEtag);
      if (got.kind === 'unchanged') return { kind: 'unchanged', etag: lastEtag };
      httpEtag = got.httpEtag;
      const goal = got.goal;
      // The document's own etag decides; without one, identical content is no change either.
      const text = JSON.stringify(goal.handlers);
      if (goal.etag !== null ? goal.etag === lastEtag : text === lastText) return { kind: 'unchanged', etag: goal.etag };
      lastEtag = goal.etag;
      lastText = text;
      deps.onGoal(goal);
      return { kind: 'new', etag: goal.etag };
    } catch (err) {
      return { kind: 'error', message: (err as Error)?.message ?? String(err), err };
    }
  }

  /**
   * A look, and what its error means. A file found unreadable or invalid by a file event or a
   * quiet look may be in the middle of a write (a truncate, then the bytes, as editors and
   * `echo >` do): that error is passing, and the confirming look 250 ms later decides. At start,
   * on a reload and for a URL, an error is reported at once.
   */
  async function check(ctx: ActorContext<GoalSourceMessage>, reason: string | null): Promise<CheckOutcome> {
    watchOnce(ctx);
    const { err, ...outcome } = await read();
    if (outcome.kind !== 'error') {
      suspect = false;
      return outcome;
    }
    // A file event's error always waits (the look 250 ms after the last event decides); a
    // confirming look's only when it is the first to meet it.
    if (!url && reason !== 'start' && reason !== 'reload' && (reason !== null || !suspect)) {
      suspect = true;
      armRecheck(ctx);
      return outcome;
    }
    suspect = false;
    // Forget what was last delivered: a source that comes back with that same document
    // delivers it again, and the goal's arrival clears the supervisor's Error status.
    httpEtag = null;
    lastEtag = null;
    lastText = null;
    deps.onError(err);
    return outcome;
  }

  /** A file event or a reload that changed nothing is said once (the confirming look stays quiet). */
  function settle(outcome: CheckOutcome, reason: string): void {
    pendingReason = null;
    if (outcome.kind === 'unchanged' && reason !== 'start') deps.onUnchanged?.(reason, outcome.etag);
  }

  return {
    async receive(msg, ctx) {
      switch (msg.type) {
        case 'check': {
          const outcome = await check(ctx, msg.reason);
          if (suspect) pendingReason = msg.reason;
          else settle(outcome, msg.reason);
          msg.reply?.(outcome);
          schedule(ctx);
          if (!url && msg.reason !== 'start') armRecheck(ctx);
          return;
        }
        case 'recheckDue': {
          recheck = null;
          const outcome = await check(ctx, null);
          // The look that settles a passing error speaks for the file event that met it.
          if (!suspect && pendingReason !== null) settle(outcome, pendingReason);
          return;
        }
        case 'pollDue':
          if (msg.gen !== gen) return;
          timer = null;
          await check(ctx, 'poll');
          schedule(ctx);
          return;
      }
    },
    onStop(ctx) {
      if (timer !== null) ctx.clock.clearTimeout(timer);
      if (recheck !== null) ctx.clock.clearTimeout(recheck);
      unwatch?.();
    },
  };
}
