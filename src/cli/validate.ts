/**
 * `supervisor validate SRC`: checks a goal-state document or a package and lists every problem.
 * Exit 0 when valid, 2 when not (or when SRC cannot be read); no logic beyond rendering.
 */
import { SupervisorError, ValidationError, formatProblem, showValue } from '../core/errors.js';
import { loadGoalStateFile, parseGoalState, type GoalState } from '../supervisor/goal/goal-state.js';
import { GOAL_STATE_MAX_BYTES, readBodyCapped } from '../supervisor/goal/goal-fetch.js';

export interface ValidateIO { stdout(s: string): void; stderr(s: string): void }

const PACKAGE_FILE = /\.(?:zip|tar\.gz|tgz)$/i;
const URL_SOURCE = /^https?:\/\//i;
const FETCH_TIMEOUT_MS = 30_000;
const ETAG_SHOWN = 120; // an etag is any string: the summary stays one readable line

const line = (text: string): string => `${text}\n`;
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** One line a person can read: how many handlers, in which states, and the etag. */
export function summarizeGoalState(src: string, goal: GoalState): string {
  const counts = new Map<string, number>();
  for (const h of goal.handlers) counts.set(h.state, (counts.get(h.state) ?? 0) + 1);
  const states = (['enabled', 'disabled', 'uninstall'] as const)
    .filter((s) => counts.has(s)).map((s) => `${counts.get(s)} ${s}`).join(', ');
  const etag = goal.etag === null ? 'no etag' : `etag ${showValue(goal.etag, ETAG_SHOWN)}`;
  return `${src}: valid, ${plural(goal.handlers.length, 'handler')}${states ? ` (${states})` : ''}, ${etag}`;
}

async function fetchGoalState(url: string): Promise<GoalState> {
  let text: string;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`.trim());
    text = await readBodyCapped(res, GOAL_STATE_MAX_BYTES, url);
  } catch (err) {
    if (err instanceof SupervisorError) throw err; // over the cap: already names the URL and the limit
    throw new SupervisorError('E_GOAL_STATE_READ', `cannot read goal state ${url}: ${(err as Error).message}`, { url }, { cause: err });
  }
  return parseGoalState(text, url);
}

async function validatePackage(src: string, io: ValidateIO): Promise<number> {
  // Loaded only for packages, so checking a goal state never loads the archive readers.
  const { validatePackageFile } = await import('../supervisor/packages/validate-package.js');
  try {
    const pkg = await validatePackageFile(src);
    io.stdout(line(`${src}: valid package ${pkg.name} ${pkg.version} (${pkg.form} form)`));
    return 0;
  } catch (err) {
    if (!(err instanceof SupervisorError)) throw err;
    io.stderr(line(err.message));
    return 2;
  }
}

/** Validates a goal state (file or http(s) URL) or a package (.zip, .tar.gz, .tgz); returns the exit code. */
export async function validateCommand(src: string, io: ValidateIO): Promise<number> {
  if (PACKAGE_FILE.test(src) && !URL_SOURCE.test(src)) return validatePackage(src, io);
  return judge(src, io, () => (URL_SOURCE.test(src) ? fetchGoalState(src) : loadGoalStateFile(src)));
}

/** What `validate` prints and returns for goal-state text already read from `src` (the fuzz test's entry). */
export function validateGoalStateText(src: string, text: string, io: ValidateIO): Promise<number> {
  return judge(src, io, async () => parseGoalState(text, src));
}

async function judge(src: string, io: ValidateIO, load: () => Promise<GoalState>): Promise<number> {
  let goal: GoalState;
  try {
    goal = await load();
  } catch (err) {
    if (err instanceof ValidationError) {
      for (const p of err.problems) io.stderr(line(formatProblem(p).trimStart()));
      io.stderr(line(`${src}: invalid, ${plural(err.problems.length, 'problem')}`));
      return 2;
    }
    if (err instanceof SupervisorError) {
      io.stderr(line(err.message));
      return 2;
    }
    throw err;
  }
  for (const w of goal.warnings) io.stdout(line(`warning: ${formatProblem(w).trimStart()}`));
  io.stdout(line(summarizeGoalState(src, goal)));
  return 0;
}
