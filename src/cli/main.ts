/**
 * The `supervisor` command line. Only flag parsing lives here; every command module is
 * imported lazily so that a quick command does not load the whole supervisor.
 */
import { Command, CommanderError, Option } from 'commander';
import { processIO, EXIT } from './io.js';

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

function positiveNumber(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new CommanderError(EXIT.usage, 'E_USAGE', `${name} must be a number > 0 (got "${value}")`);
    return n;
  };
}

let exitCode: number = EXIT.ok;
const program = new Command('supervisor')
  .description('Runs VM extension handlers (Azure handler protocol, Device Update script handlers) from a declared goal state')
  .exitOverride()
  .showHelpAfterError();

withDirs(program.command('validate <src>')
  .description('check a goal-state file or a package (.zip/.tar.gz) and list every problem'))
  .action(async (src: string) => {
    const { validateCommand } = await import('./validate.js');
    exitCode = await validateCommand(src, processIO);
  });

withDirs(program.command('pack <dir>')
  .description('build a .zip package from a handler folder and print its sha256')
  .option('-o, --output <file>', 'where to write the package (default: <folder>-<version>.zip here)'))
  .action(async (dir: string, opts: { output?: string }) => {
    const { packCommand } = await import('./pack.js');
    exitCode = await packCommand(dir, opts, processIO);
  });

withDirs(program.command('apply')
  .description('apply a goal state once, wait for every operation, print the handler table')
  .requiredOption('--goal-state <src>', 'goal-state file')
  .addOption(new Option('--concurrency <n>', 'enable/disable commands at once').argParser(positiveInt('--concurrency')).default(16))
  .addOption(new Option('--install-concurrency <n>', 'install/update/uninstall commands at once').argParser(positiveInt('--install-concurrency')).default(1))
  .addOption(new Option('--kill-grace <seconds>', 'between SIGTERM and SIGKILL when a command is ended').argParser(positiveNumber('--kill-grace')).default(5))
  .option('--json', 'print the result as JSON'))
  .action(async (opts: DirFlags & { goalState: string; concurrency: number; installConcurrency: number; killGrace: number; json?: boolean }) => {
    const { applyCommand } = await import('./apply.js');
    exitCode = await applyCommand({ ...opts, grace: opts.killGrace }, processIO);
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
