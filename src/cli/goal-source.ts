/**
 * Where `run` and `apply` take the goal-state source from: `--goal-state SRC`, else the file
 * `--goal-state-url-file FILE` names, else `$SUPERVISOR_GOAL_STATE`. A URL's token on the command
 * line is readable by every local user in /proc/<pid>/cmdline (Node cannot overwrite its argv);
 * a file only its owner can read, or the environment (/proc/<pid>/environ is owner-only), keeps
 * it there. The variable is removed from this process's environment once read, so neither the
 * spawner nor a handler command inherits it.
 */
import { readFile, stat } from 'node:fs/promises';
import { SupervisorError } from '../core/errors.js';
import { GOAL_STATE_ENV } from '../supervisor/process/daemon-env.js';

export { GOAL_STATE_ENV };

export interface GoalSourceFlags {
  readonly goalState?: string;
  readonly goalStateUrlFile?: string;
}

function usage(message: string): SupervisorError {
  return new SupervisorError('E_USAGE', message);
}

/** The source to apply; throws E_USAGE naming the flag or file at fault. */
export async function resolveGoalSource(flags: GoalSourceFlags, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const fromEnv = env[GOAL_STATE_ENV];
  delete env[GOAL_STATE_ENV];
  if (flags.goalState !== undefined && flags.goalStateUrlFile !== undefined) {
    throw usage('--goal-state and --goal-state-url-file are exclusive: give one');
  }
  if (flags.goalState !== undefined) return flags.goalState;
  if (flags.goalStateUrlFile !== undefined) return readSourceFile(flags.goalStateUrlFile);
  if (fromEnv !== undefined && fromEnv.trim() !== '') return fromEnv.trim();
  throw usage(`no goal state: give --goal-state SRC, --goal-state-url-file FILE or $${GOAL_STATE_ENV}`);
}

/** The file holds the source on its first line; a file others may read would defeat its purpose, as ssh refuses such a key. */
async function readSourceFile(file: string): Promise<string> {
  let text: string;
  let mode: number;
  try {
    mode = (await stat(file)).mode;
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw usage(`--goal-state-url-file ${file}: ${(err as Error).message}`);
  }
  if ((mode & 0o077) !== 0) {
    throw usage(`--goal-state-url-file ${file}: group or others may access it (mode 0${(mode & 0o777).toString(8)}); chmod 600 it`);
  }
  const source = text.split('\n')[0]!.trim();
  if (source === '') throw usage(`--goal-state-url-file ${file}: empty (expected a goal-state URL or file path on its first line)`);
  return source;
}
