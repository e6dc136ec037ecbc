/** How a manifest command becomes a shell line and an environment, as the Azure agent runs it. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandName } from './steps.js';

/** POSIX single-quote quoting, safe for any path. */
export function shellQuote(text: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * The agent joins the command onto the handler dir ("handler.py enable" runs
 * <dir>/handler.py). We do the same when that first word is a file of the package, and
 * run the line as written otherwise ("bash install.sh", "python3 x.py"), which the agent
 * cannot do: more handlers run unchanged, none runs differently.
 */
export function commandLine(dir: string, command: string): string {
  const line = command.trim().replace(/^\/+/, '');
  const first = line.split(/\s+/)[0] ?? '';
  if (first && !first.includes('..') && existsSync(join(dir, first))) return `${shellQuote(dir)}/${line}`;
  return line;
}

/** Exit codes of the old side, handed to the new side during an upgrade (the agent's NOT_RUN default). */
export interface UpgradeEnv {
  readonly newVersion: string;
  readonly fromVersion: string;
  disableExitCode: number | null;
  uninstallExitCode: number | null;
}

export interface CommandEnvInput {
  readonly handler: string;
  readonly op: CommandName;
  readonly dir: string;
  readonly version: string;
  readonly sequenceNumber: number;
  /** Set only for multi-config handlers, as the agent's ConfigExtensionName. */
  readonly extensionName: string | null;
  readonly upgrade: UpgradeEnv | null;
}

/** The variables of CONTRACT section 4 (on top of the supervisor's own environment). */
export function commandEnv(input: CommandEnvInput): Record<string, string> {
  const env: Record<string, string> = {
    SUPERVISOR_HANDLER: input.handler,
    SUPERVISOR_OPERATION: input.op,
    ConfigSequenceNumber: String(input.sequenceNumber),
    AZURE_GUEST_AGENT_EXTENSION_PATH: input.dir,
    AZURE_GUEST_AGENT_EXTENSION_VERSION: input.version,
  };
  if (input.extensionName !== null) env['ConfigExtensionName'] = input.extensionName;
  if (input.upgrade) {
    env['VERSION'] = input.upgrade.newVersion;
    env['AZURE_GUEST_AGENT_UPDATING_FROM_VERSION'] = input.upgrade.fromVersion;
    env['AZURE_GUEST_AGENT_DISABLE_CMD_EXIT_CODE'] = input.upgrade.disableExitCode === null ? 'NOT_RUN' : String(input.upgrade.disableExitCode);
    env['AZURE_GUEST_AGENT_UNINSTALL_CMD_EXIT_CODE'] = input.upgrade.uninstallExitCode === null ? 'NOT_RUN' : String(input.upgrade.uninstallExitCode);
  }
  return env;
}
