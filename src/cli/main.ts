/**
 * The `supervisor` command line. Only flag parsing lives here; every command module is
 * imported lazily so that a quick command does not load the whole supervisor.
 */
import { Command, CommanderError, Option } from 'commander';
import { processIO, EXIT } from './io.js';
import { supervisorVersion } from '../core/version-info.js';

interface DirFlags { libDir?: string; logDir?: string }

function withDirs(cmd: Command): Command {
  return cmd
    .option('--lib-dir <dir>', 'state, packages, handler dirs and socket (default: $SUPERVISOR_LIB_DIR, /var/lib/ext-supervisor as root, else ~/.local/state/ext-supervisor)')
    .option('--log-dir <dir>', 'logs (default: $SUPERVISOR_LOG_DIR, /var/log/ext-supervisor as root, else <lib dir>/log)');
}

function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new CommanderError(EXIT.usage, 'E_USAGE', `${name} must be a whole number >= 1 (got "${value}")`);
    return n;
  };
}

function nonNegativeInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new CommanderError(EXIT.usage, 'E_USAGE', `${name} must be a whole number >= 0 (got "${value}")`);
    return n;
  };
}

function positiveNumber(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new CommanderError(EXIT.usage, 'E_USAGE', `${name} must be a number > 0 (got "${value}")`);
    return n;
  };
}

/**
 * A command's exit codes under its --help, one `  N  meaning` line each. CONTRACT section 7 ends
 * each command's row with the same codes (test/docs/docs-commands.test.ts compares them).
 */
function exits(cmd: Command, codes: ReadonlyArray<readonly [number, string]>): Command {
  return cmd.addHelpText('after', `\nExit codes:\n${codes.map(([code, meaning]) => `  ${code}  ${meaning}`).join('\n')}`);
}

const USAGE: readonly [number, string] = [2, 'usage: an unknown flag or a bad flag value'];
const LIB_DIR: readonly [number, string] = [2, 'usage, or a --lib-dir that is missing or not a folder'];

let exitCode: number = EXIT.ok;
const program = exits(new Command('supervisor')
  .description('Runs VM extension handlers (Azure handler protocol, Device Update script handlers) from a declared goal state')
  .version(supervisorVersion(), '-V, --version', 'print the version and exit')
  .exitOverride()
  .showHelpAfterError(), [
  [0, 'ok'],
  [1, 'a handler did not reach its goal (apply, restart, retry) or is Failed (ps, status)'],
  [2, 'usage or invalid input (supervisor COMMAND --help says which)'],
  [3, 'no daemon running where one is needed; for ps and status, a handler not running as its goal says'],
  [4, 'no handler of that name (status)'],
]);

// validate and pack touch no lib dir: they do not offer --lib-dir/--log-dir.
exits(program.command('validate <src>')
  .description('check a goal-state file or a package (.zip/.tar.gz) and list every problem'),
[[0, 'valid'], [2, 'not valid (every problem is listed), unreadable, or usage']])
  .action(async (src: string) => {
    const { validateCommand } = await import('./validate.js');
    exitCode = await validateCommand(src, processIO);
  });

exits(program.command('pack <dir>')
  .description('build a .zip package from a handler folder and print its sha256')
  .option('-o, --output <file>', 'where to write the package (default: <folder>-<version>.zip here)'),
[[0, 'built'], [2, 'the folder or its manifest is refused, the package cannot be written, or usage']])
  .action(async (dir: string, opts: { output?: string }) => {
    const { packCommand } = await import('./pack.js');
    exitCode = await packCommand(dir, opts, processIO);
  });

/** The options apply and run share: how a goal state is carried out. */
function withApplyOptions(cmd: Command): Command {
  return withDirs(cmd
    .option('--goal-state <src>', 'goal-state file or http(s) URL (default: $SUPERVISOR_GOAL_STATE)')
    .option('--goal-state-url-file <file>', 'read the goal-state URL (or path) from this file, mode 0600: keeps a token out of the process list')
    .addOption(new Option('--concurrency <n>', 'enable/disable commands at once').argParser(positiveInt('--concurrency')).default(16))
    .addOption(new Option('--install-concurrency <n>', 'install/update/uninstall commands at once').argParser(positiveInt('--install-concurrency')).default(1))
    .addOption(new Option('--kill-grace <seconds>', 'between SIGTERM and SIGKILL when a command is ended').argParser(positiveNumber('--kill-grace')).default(5))
    .option('--certificates-folder <dir>', 'folder of <thumbprint>.crt/.prv for protected settings, when the goal state names none'));
}

exits(withApplyOptions(program.command('apply')
  .description('apply a goal state once, wait for every operation, print the handler table')
  .option('--json', 'print the result as JSON')),
[[0, 'every handler reached its goal'], [1, 'a handler did not reach its goal (the table says why)'],
  [2, 'an invalid goal state, a daemon or another apply holds the lib dir, or usage']])
  .action(async (opts: DirFlags & { goalState?: string; goalStateUrlFile?: string; concurrency: number; installConcurrency: number; killGrace: number; json?: boolean;
    certificatesFolder?: string }) => {
    const [{ applyCommand }, { resolveGoalSource }] = await Promise.all([import('./apply.js'), import('./goal-source.js')]);
    exitCode = await applyCommand({ ...opts, goalState: await resolveGoalSource(opts), grace: opts.killGrace }, processIO);
  });

const LOG_LEVELS = ['error', 'warn', 'info', 'debug'];

exits(withApplyOptions(program.command('run')
  .description('the daemon: apply the goal state, re-apply when it changes, monitor, serve the control socket')
  .addOption(new Option('--poll-interval <seconds>', 'how often a URL goal state is polled').argParser(positiveNumber('--poll-interval')).default(60))
  .addOption(new Option('--stop-grace <seconds>', 'at shutdown, how long running commands may finish before they are ended').argParser(positiveNumber('--stop-grace')).default(30))
  .addOption(new Option('--sample-interval <seconds>', 'process CPU/memory sampling period').argParser(positiveNumber('--sample-interval')).default(5))
  .option('--report-url <url>', 'PUT every new status report to this http(s) URL')
  .option('--http-listen <[addr:]port>', 'serve the status page, ps/status JSON, events, /metrics, /healthz, /readyz (loopback when only a port is given)')
  .option('--metrics-listen <[addr:]port>', 'alias of --http-listen (the same server)')
  .option('--http-token-file <file>', 'a file (mode 0600) holding the bearer token every HTTP request must carry; required for a non-loopback --http-listen')
  .option('--cgroup-root <path>', 'the cgroup subtree handlers are put in (default: the unit\'s delegated group under systemd, else <cgroup mount>/ext-supervisor)')
  .option('--no-cgroups', 'find handler processes by their environment mark only; limits are not enforced')
  .addOption(new Option('--log-level <level>', 'supervisor.log and console verbosity').choices(LOG_LEVELS).default('info'))
  .addOption(new Option('--output-max <bytes>', "the most bytes one file of a command's captured output holds, rotated beyond").argParser(positiveInt('--output-max')).default(8 * 1024 * 1024))
  .addOption(new Option('--output-keep <n>', 'rotated output files kept (<op>.stdout.1 the newest)').argParser(nonNegativeInt('--output-keep')).default(3))),
[[0, 'stopped (SIGTERM, SIGINT or supervisor stop)'], [1, 'could not start for another reason than those of 2'],
  [2, 'another daemon holds the lib dir, the socket or --metrics-listen address is taken, or usage']])
  .action(async (opts) => {
    const [{ runCommand }, { resolveGoalSource }] = await Promise.all([import('./run.js'), import('./goal-source.js')]);
    exitCode = await runCommand({ ...opts, goalState: await resolveGoalSource(opts) }, processIO);
  });

exits(withDirs(program.command('ps')
  .description('one line per handler: state, status, processes, CPU, memory, heartbeat, last operation')
  .option('--json', 'print the rows as JSON')
  .option('--watch', 'redraw every second until Ctrl-C')
  .addOption(new Option('--interval <seconds>', 'redraw period with --watch').argParser(positiveNumber('--interval')).default(1))),
[[0, 'every handler is at its goal (or there are none; --watch: ended by Ctrl-C)'], [1, 'a handler is Failed'], LIB_DIR,
  [3, 'none is Failed, but one is not running as its goal says']])
  .action(async (opts) => {
    const { psCommand } = await import('./ps.js');
    exitCode = await psCommand(opts, processIO);
  });

exits(withDirs(program.command('status <name>')
  .description('everything about one handler: operations, extensions, heartbeat, processes, log paths')
  .option('--json', 'print as JSON')),
[[0, 'the handler is at its goal'], [1, 'it is Failed'], LIB_DIR, [3, 'it is not running as its goal says'], [4, 'no handler of that name']])
  .action(async (name: string, opts) => {
    const { statusCommand } = await import('./status.js');
    exitCode = await statusCommand(name, opts, processIO);
  });

exits(withDirs(program.command('logs [name]')
  .description("a handler's lifecycle lines (CommandExecution.log) with what its commands printed; without NAME every handler's, prefixed NAME |")
  .option('-f, --follow', 'keep printing new lines, new operations and handlers included (needs the daemon)')
  .addOption(new Option('-n, --lines <n>', 'how many of the last lines (default 50; every line with --since)').argParser(positiveInt('--lines')))
  .option('--since <time>', 'only lines written since an ISO time or a duration ago (30s, 10m, 2h, 1d); an output line counts from its file\'s last write')
  .option('--output', "only the commands' stdout and stderr")
  .option('--no-output', 'only the lifecycle lines (CommandExecution.log)')
  .option('--op <op>', "only the output of that operation (install, enable, ...)")),
[[0, 'ok (--follow: ended by Ctrl-C or SIGTERM)'], [2, 'no log for that handler, a bad --since, a --lib-dir that is missing or not a folder, or usage'],
  [3, '--follow with no daemon running']])
  .action(async (name: string | undefined, opts) => {
    const { logsCommand } = await import('./logs.js');
    exitCode = await logsCommand(name, opts, processIO);
  });

exits(withDirs(program.command('report').description('the status report (from the daemon, or as last written)')
  .option('--json', 'print as JSON (the report is JSON already; accepted as ps and status accept it)')),
[[0, 'printed'], LIB_DIR, [3, 'no daemon running and no report written yet']])
  .action(async (opts) => {
    const { reportCommand } = await import('./report.js');
    exitCode = await reportCommand(opts, processIO);
  });

exits(withDirs(program.command('sessions').description('past goal-state applications, newest first').option('--json', 'print as JSON')),
[[0, 'printed'], LIB_DIR])
  .action(async (opts) => {
    const { sessionsCommand } = await import('./sessions.js');
    exitCode = await sessionsCommand(opts, processIO);
  });

exits(withDirs(program.command('reload').description('make the running daemon re-read its goal-state file, or poll its URL, now (as SIGHUP does)')),
[[0, 'read: a new goal state (being applied) or the same etag (nothing to do)'], [1, 'the goal state could not be read (the message says why)'],
  LIB_DIR, [3, 'no daemon running']])
  .action(async (opts) => {
    const { reloadCommand } = await import('./reload.js');
    exitCode = await reloadCommand(opts, processIO);
  });

exits(withDirs(program.command('restart <name...>')
  .description('make the running daemon disable then enable these handlers (dependents disabled before, enabled after)')),
[[0, 'done'], [1, 'a step failed (the lines say which; later names untouched)'],
  [2, 'a name the daemon does not know (nothing done), a --lib-dir that is missing or not a folder, or usage'], [3, 'no daemon running (nothing done)']])
  .action(async (names: string[], opts) => {
    const { controlCommand } = await import('./control.js');
    exitCode = await controlCommand('restart', names, opts, processIO);
  });

exits(withDirs(program.command('retry <name...>')
  .description("reset these handlers' restart budget and re-attempt their goal now (dependents as restart does)")),
[[0, 'every goal reached'], [1, 'a goal was not reached (the lines say why; later names untouched)'],
  [2, 'a name the daemon does not know (nothing done), a --lib-dir that is missing or not a folder, or usage'], [3, 'no daemon running (nothing done)']])
  .action(async (names: string[], opts) => {
    const { controlCommand } = await import('./control.js');
    exitCode = await controlCommand('retry', names, opts, processIO);
  });

exits(withDirs(program.command('stop').description('ask the daemon to stop gracefully (handlers keep running)')
  .addOption(new Option('--timeout <seconds>', 'how long to wait for it to stop').argParser(positiveNumber('--timeout')).default(60))),
[[0, 'stopped'], [1, 'still stopping after --timeout'], USAGE, [3, 'no daemon running']])
  .action(async (opts) => {
    const { stopCommand } = await import('./stop.js');
    exitCode = await stopCommand(opts, processIO);
  });

async function main(argv: string[]): Promise<number> {
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.ok;
      if (err.code === 'E_USAGE') processIO.stderr(`supervisor: ${err.message}\n`);
      return EXIT.usage;
    }
    const e = err as { code?: unknown; message?: unknown };
    processIO.stderr(`supervisor: ${typeof e?.message === 'string' ? e.message : String(err)}\n`);
    return typeof e?.code === 'string' && e.code.startsWith('E_') ? EXIT.usage : EXIT.notReached;
  }
}

process.exitCode = await main(process.argv);
