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

  function schedule(ctx: ActorContext<GoalSourceMessage>): void {
    if (!url) return;
    if (timer !== null) ctx.clock.clearTimeout(timer);
    const mine = ++gen;
    timer = ctx.clock.setTimeout(() => ctx.self.tell({ type: 'pollDue', gen: mine }), deps.pollIntervalSec * 1000);
  }

  async function check(ctx: ActorContext<GoalSourceMessage>): Promise<CheckOutcome> {
    if (!url && !unwatch) {
      const file = resolve(deps.source);
      unwatch = deps.watcher.add(dirname(file), (e) => {
        if (basename(e.path) === basename(file)) ctx.self.tell({ type: 'check', reason: `${e.kind} ${file}` });
      }, () => {
        deps.onWatching?.(file);
        // An edit made while the watch was being set up made no event: one quiet look catches it.
        ctx.self.tell({ type: 'recheckDue' });
      });
    }
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
      // Forget what was last delivered: a source that comes back with that same document
      // delivers it again, and the goal's arrival clears the supervisor's Error status.
      httpEtag = null;
      lastEtag = null;
      lastText = null;
      deps.onError(err);
      return { kind: 'error', message: (err as Error)?.message ?? String(err) };
    }
  }

  return {
    async receive(msg, ctx) {
      switch (msg.type) {
        case 'check': {
          const outcome = await check(ctx);
          // A file event or a reload that changed nothing is said once (the recheck that follows stays quiet).
          if (outcome.kind === 'unchanged' && msg.reason !== 'start') deps.onUnchanged?.(msg.reason, outcome.etag);
          msg.reply?.(outcome);
          schedule(ctx);
          if (!url && msg.reason !== 'start') {
            if (recheck !== null) ctx.clock.clearTimeout(recheck);
            recheck = ctx.clock.setTimeout(() => ctx.self.tell({ type: 'recheckDue' }), RECHECK_MS);
          }
          return;
        }
        case 'recheckDue':
          recheck = null;
          await check(ctx);
          return;
        case 'pollDue':
          if (msg.gen !== gen) return;
          timer = null;
          await check(ctx);
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
