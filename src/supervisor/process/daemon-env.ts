/**
 * Environment variables meant for the daemon's own process (and its spawner), never for the
 * handlers it starts. glibc reads its malloc settings from the environment once, at process start,
 * so they can only be set by whoever starts the daemon: the systemd unit
 * (deploy/ext-supervisor.service) and the benchmarks. Handlers inherit the daemon's environment
 * (as under the Azure agent), so the starter also names these variables in DAEMON_ONLY_ENV_VAR,
 * and every handler command starts from the environment without them.
 *
 * Measured on a held fleet of 1000 (docs/decisions.md, "Daemon memory"): a fixed 128 KiB mmap
 * threshold keeps the apply's large buffers out of the main heap, where they left ~25 MB of
 * fragmented free space behind: 146-151 MB -> 121-127 MB; two arenas instead of one per thread
 * take a few MB more.
 */
export const DAEMON_ONLY_ENV_VAR = 'EXT_SUPERVISOR_DAEMON_ONLY_ENV';

/** The goal-state source (`supervisor run`/`apply`), perhaps a URL with a token: never a handler's. */
export const GOAL_STATE_ENV = 'SUPERVISOR_GOAL_STATE';

export const DAEMON_MALLOC_ENV: Readonly<Record<string, string>> = Object.freeze({
  MALLOC_MMAP_THRESHOLD_: '131072',
  MALLOC_ARENA_MAX: '2',
});

/** Set by systemd for a Type=notify service (sd_notify(3), sd_watchdog_enabled(3)). */
export const SYSTEMD_NOTIFY_ENV: readonly string[] = Object.freeze(['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID']);

/** What the starter of a daemon adds to its environment: the malloc settings and the list naming them. */
export function daemonStartEnv(): Record<string, string> {
  return { ...DAEMON_MALLOC_ENV, [DAEMON_ONLY_ENV_VAR]: Object.keys(DAEMON_MALLOC_ENV).join(',') };
}

/** `env` without the variables DAEMON_ONLY_ENV_VAR names, nor that one, nor GOAL_STATE_ENV: what handler commands inherit. */
export function handlerBaseEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const drop = new Set((env[DAEMON_ONLY_ENV_VAR] ?? '').split(',').map((s) => s.trim()).filter((s) => s !== ''));
  drop.add(DAEMON_ONLY_ENV_VAR);
  drop.add(GOAL_STATE_ENV);
  // systemd's notify socket and watchdog are the daemon's: a handler must not report readiness or keep it alive.
  for (const name of SYSTEMD_NOTIFY_ENV) drop.add(name);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && !drop.has(k)) out[k] = v;
  return out;
}
