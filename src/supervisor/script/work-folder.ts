/**
 * The Device Update work folder (`--work-folder`): as the Device Update agent's script handler
 * downloads the script and every payload file of the update into it and runs the script from
 * there, the supervisor copies the package's files into it before each operation.
 */
import { chmod, cp, mkdir } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

/** What the supervisor writes into a handler dir: not part of the package, never copied. */
export const SUPERVISOR_ENTRIES: readonly string[] = ['HandlerEnvironment.json', 'config', 'status', '.supervisor', 'heartbeat.log'];

/** Makes the work folder 0700 even when it already existed with a looser mode. */
export async function ensureWorkFolder(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
}

/**
 * Copies the package (the handler dir minus what the supervisor wrote there) over the work
 * folder: files the script left there from an earlier action stay, package files are refreshed
 * (an upgrade brings its new payload). Symbolic links are copied as links, never followed.
 */
export async function stagePackage(handlerDir: string, workFolder: string): Promise<void> {
  await ensureWorkFolder(workFolder);
  await cp(handlerDir, workFolder, {
    recursive: true, force: true, verbatimSymlinks: true, preserveTimestamps: true,
    filter: (src) => dirname(src) !== handlerDir || !SUPERVISOR_ENTRIES.includes(basename(src)),
  });
}
