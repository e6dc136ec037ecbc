/**
 * The files a handler reads before any command runs: its folders, HandlerEnvironment.json
 * and one settings file per extension (CONTRACT section 3).
 */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { atomicWrite } from '../../storage/atomic-write.js';
import { ensureDir } from '../../storage/dirs.js';
import { readRegularFile } from '../../storage/handler-file.js';
import { formatHandlerEnvironment } from '../../protocol/handler-environment.js';
import { emptySettings, formatSettings, parseSeqFileName, settingsFileName, DEFAULT_SEQUENCE_NUMBER } from '../../protocol/settings.js';
import type { HandlerManifest } from '../../protocol/manifest.js';
import type { HandlerPaths } from '../../storage/layout.js';
import type { ExtensionSettings } from './settings-hash.js';

/**
 * Multi-config (the agent's `<ext>.<seq>` file naming, ConfigExtensionName) is the manifest's
 * `supportsMultipleExtensions`, as the agent decides it: never the number of extensions, so a
 * handler's file names do not change when an extension is added or dropped.
 */
export function isMultiConfig(manifest: HandlerManifest | null): boolean {
  return manifest?.form === 'command' && manifest.supportsMultipleExtensions;
}

/** The agent refuses several extensions for a handler whose manifest is single-config; so do we (they would share `<seq>.settings`). */
export function multiConfigProblem(name: string, manifest: HandlerManifest, extensions: readonly ExtensionSettings[]): string | null {
  if (extensions.length <= 1 || isMultiConfig(manifest) || manifest.form !== 'command') return null;
  return `handler ${name}: the goal state gives it ${extensions.length} extensions (${extensions.map((e) => e.name).join(', ')}) `
    + 'but its HandlerManifest.json does not set supportsMultipleExtensions: a single-config handler takes one extension';
}

/** Creates every folder HandlerEnvironment.json names, then writes it and the settings files. */
export async function prepareHandlerFiles(paths: HandlerPaths, name: string, version: string,
  extensions: readonly ExtensionSettings[], opts: { readonly settings?: boolean; readonly multiConfig?: boolean } = {}): Promise<void> {
  for (const dir of [paths.dir, paths.configFolder, paths.statusFolder, paths.logFolder, paths.eventsFolder, paths.outputFolder]) {
    await ensureDir(dir, 0o700);
  }
  await atomicWrite(paths.environmentFile, formatHandlerEnvironment({
    name, version,
    logFolder: paths.logFolder, configFolder: paths.configFolder, statusFolder: paths.statusFolder,
    heartbeatFile: paths.heartbeatFile, eventsFolder: paths.eventsFolder,
  }), { mode: 0o600 });
  // Script-form handlers read no settings files: writing them would only spread protected settings.
  if (opts.settings === false) return;
  if (extensions.length === 0) {
    await atomicWrite(join(paths.configFolder, settingsFileName('default', DEFAULT_SEQUENCE_NUMBER, false)), emptySettings(), { mode: 0o600 });
    return;
  }
  const multi = opts.multiConfig ?? false;
  for (const ext of extensions) {
    await atomicWrite(join(paths.configFolder, settingsFileName(ext.name, ext.sequenceNumber, multi)), formatSettings(ext), { mode: 0o600 });
  }
}

/** A dropped extension of a multi-config handler: its `<ext>.<seq>.settings` and `.status` files, every sequence number. */
export async function removeExtensionFiles(paths: HandlerPaths, extensions: readonly string[]): Promise<string[]> {
  const removed: string[] = [];
  for (const folder of [paths.configFolder, paths.statusFolder]) {
    for (const file of await readdir(folder).catch(() => [] as string[])) {
      const parsed = parseSeqFileName(file);
      if (parsed?.ext == null || !extensions.includes(parsed.ext)) continue;
      await rm(join(folder, file), { force: true });
      removed.push(join(folder, file));
    }
  }
  return removed;
}

/**
 * Upgrade: carry the handler's own mrseq and status files over to the new version's dir. Only
 * regular files are copied (a FIFO or link there is the old handler's mistake: E_NOT_REGULAR_FILE),
 * and each lands by rename, so nothing the new package holds at that name is written through.
 */
export async function copyHandlerState(from: HandlerPaths, to: HandlerPaths): Promise<string[]> {
  const copied: string[] = [];
  const mrseq = await readRegularFile(join(from.dir, 'mrseq'));
  if (mrseq !== null) {
    await atomicWrite(join(to.dir, 'mrseq'), mrseq, { mode: 0o600 });
    copied.push('mrseq');
  }
  await ensureDir(to.statusFolder, 0o700);
  const entries = await readdir(from.statusFolder, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const data = await readRegularFile(join(from.statusFolder, entry.name));
    if (data === null) continue; // removed meanwhile
    await atomicWrite(join(to.statusFolder, entry.name), data, { mode: 0o600 });
    copied.push(`status/${entry.name}`);
  }
  return copied;
}
