/**
 * The one message string of a script operation: what each action answered, the decisive
 * resultDetails verbatim (quotes and newlines kept), restart requests, and on failure the
 * output tails. Pure.
 */
import { failureMessage } from '../lifecycle/run-operation.js';
import type { ActionRecord } from './run-script-action.js';

export interface MessageInput {
  /** How the operation is named, e.g. `install` or `update (the new version's install sequence)`. */
  readonly what: string;
  readonly actions: readonly ActionRecord[];
  /** The action that decided the outcome (the failing one, or the last run). */
  readonly decisive: ActionRecord;
  readonly succeeded: boolean;
  /** is-installed answered 900: download and install were not run. */
  readonly skipped: boolean;
  readonly tails: { readonly stdoutTail: string; readonly stderrTail: string };
  /** Processes that outlived SIGKILL when an action was ended. */
  readonly unkillable: readonly number[];
}

/** One action in a summary: `install: resultCode 600`, or why it failed. */
export function describeAction(a: ActionRecord): string {
  return `${a.action}: ${a.reason}`;
}

/** The restart requests of an operation, for the message; empty when none. */
export function requestNotes(actions: readonly ActionRecord[]): string[] {
  const notes: string[] = [];
  for (const a of actions) {
    if (a.request === 'reboot') notes.push(`reboot requested by ${a.action} (resultCode ${a.resultCode}; recorded, not acted on)`);
    if (a.request === 'agentRestart') notes.push(`agent restart requested by ${a.action} (resultCode ${a.resultCode}; recorded, not acted on)`);
  }
  return notes;
}

/** Builds the operation message; failure messages end with the decisive action's stdout/stderr tails. */
export function scriptOperationMessage(m: MessageInput): string {
  const summary = m.actions.map((a) => describeAction(a)).join('; ');
  let head: string;
  if (m.skipped) head = `${m.what} succeeded: already installed (is-installed resultCode ${m.decisive.resultCode}), download and install skipped`;
  else if (m.succeeded) head = `${m.what} succeeded: ${summary}`;
  else {
    const verb = m.decisive.decidedBy === 'timedOut' ? 'timed out' : 'failed';
    head = `${m.what} ${verb} at --action-${m.decisive.action}: ${m.decisive.reason}`;
    const earlier = m.actions.filter((a) => a !== m.decisive).map((a) => describeAction(a));
    if (earlier.length > 0) head += ` (before it: ${earlier.join('; ')})`;
  }
  const parts = [head];
  if (m.decisive.resultDetails !== '') parts.push(`resultDetails: ${m.decisive.resultDetails}`);
  parts.push(...requestNotes(m.actions));
  if (m.unkillable.length > 0) parts.push(`unkillable: ${m.unkillable.join(', ')}`);
  const text = parts.join('; ');
  return m.succeeded ? text : failureMessage(text, m.tails);
}
