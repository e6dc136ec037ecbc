/**
 * One small JSON file per handler in a folder of the lib dir (`history/`, `restarts/`), written
 * atomically by its one owner. A file that does not parse is treated as absent and reported:
 * it holds what a display needs, never what a lifecycle decision needs.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { atomicWriteJson } from '../../storage/atomic-write.js';
import { ensureDir } from '../../storage/dirs.js';

export interface HandlerFilesOptions {
  /** Told about a file that could not be read or did not parse (it is then treated as absent). */
  readonly onInvalid?: (file: string, error: unknown) => void;
}

export class HandlerFiles<T> {
  #folderReady: Promise<void> | null = null;

  constructor(readonly folder: string, private readonly parse: (value: unknown, source: string) => T,
    private readonly opts: HandlerFilesOptions = {}) {}

  file(name: string): string {
    return join(this.folder, `${name}.json`);
  }

  /** The handler's file, or null when there is none (or it is unreadable). */
  async load(name: string): Promise<T | null> {
    const file = this.file(name);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.opts.onInvalid?.(file, err);
      return null;
    }
    try {
      return this.parse(JSON.parse(text), file);
    } catch (err) {
      this.opts.onInvalid?.(file, err);
      return null;
    }
  }

  async save(name: string, value: T): Promise<void> {
    // The folder is made once per store; if it went away meanwhile, the failed write makes it again.
    this.#folderReady ??= ensureDir(this.folder, 0o700).catch((err: unknown) => { this.#folderReady = null; throw err; });
    await this.#folderReady;
    try {
      await atomicWriteJson(this.file(name), value, { mode: 0o600 });
    } catch {
      this.#folderReady = null;
      await ensureDir(this.folder, 0o700);
      await atomicWriteJson(this.file(name), value, { mode: 0o600 });
    }
  }

  async remove(name: string): Promise<void> {
    await rm(this.file(name), { force: true });
  }

  /** Every handler with a file here. */
  async names(): Promise<string[]> {
    const entries = await readdir(this.folder).catch(() => [] as string[]);
    return entries.filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -'.json'.length)).sort();
  }

  /** Every readable file, by handler name. */
  async loadAll(): Promise<Map<string, T>> {
    const out = new Map<string, T>();
    for (const name of await this.names()) {
      const value = await this.load(name);
      if (value !== null) out.set(name, value);
    }
    return out;
  }
}
