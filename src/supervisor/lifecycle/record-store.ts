/**
 * Handler lifecycle records, one file each under <lib>/state/, written atomically.
 * A record that does not parse is moved aside (never deleted) and rebuilt from the
 * handler dirs on disk.
 */
import { lstat, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { atomicWriteJson } from '../../storage/atomic-write.js';
import { ensureDir } from '../../storage/dirs.js';
import { emptyRecord, recordFromJson, type HandlerRecord } from './record.js';
import { stateFile, stateFolder, type SupervisorDirs } from '../../storage/layout.js';
import { compareVersions, isVersion } from './version.js';

export interface StateStoreOptions {
  /** Told about every record that had to be moved aside and rebuilt. */
  readonly onCorrupt?: (info: { file: string; movedTo: string; rebuilt: HandlerRecord; error: string }) => void;
}

export class StateStore {
  private folderReady: Promise<void> | null = null;

  constructor(private readonly dirs: SupervisorDirs, private readonly opts: StateStoreOptions = {}) {}

  /** The record of `name`; NotInstalled when there is none. */
  async load(name: string): Promise<HandlerRecord> {
    const file = stateFile(this.dirs, name);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyRecord(name);
      throw err;
    }
    try {
      const record = recordFromJson(JSON.parse(text), file);
      if (record.name !== name) throw new Error(`names handler "${record.name}", expected "${name}"`);
      return record;
    } catch (err) {
      return this.rebuild(name, file, (err as Error).message);
    }
  }

  async save(record: HandlerRecord): Promise<void> {
    // The folder is made once, not before every save (a save is a checkpoint, several per command);
    // if it went away meanwhile, the failed write makes it again and retries once.
    this.folderReady ??= ensureDir(stateFolder(this.dirs), 0o700).catch((err: unknown) => { this.folderReady = null; throw err; });
    await this.folderReady;
    try {
      await atomicWriteJson(stateFile(this.dirs, record.name), record, { mode: 0o600 });
    } catch {
      this.folderReady = null;
      await ensureDir(stateFolder(this.dirs), 0o700);
      await atomicWriteJson(stateFile(this.dirs, record.name), record, { mode: 0o600 });
    }
  }

  async remove(name: string): Promise<void> {
    await rm(stateFile(this.dirs, name), { force: true });
  }

  /** Names of every handler with a record on disk. */
  async names(): Promise<string[]> {
    const entries = await readdir(stateFolder(this.dirs)).catch(() => [] as string[]);
    return entries.filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -'.json'.length)).sort();
  }

  /** The installed version is the newest complete handler dir; whether it was enabled cannot be known. */
  private async rebuild(name: string, file: string, error: string): Promise<HandlerRecord> {
    const movedTo = `${file}.corrupt-${Date.now()}`;
    await rename(file, movedTo);
    const prefix = `${name}-`;
    const versions: string[] = [];
    for (const entry of await readdir(this.dirs.libDir, { withFileTypes: true }).catch(() => [])) {
      if (!entry.isDirectory() || !entry.name.startsWith(prefix)) continue;
      const v = entry.name.slice(prefix.length);
      if (!isVersion(v)) continue;
      // lstat, not a read: a FIFO planted as the manifest must not hold the rebuild in open().
      const hasManifest = await lstat(join(this.dirs.libDir, entry.name, 'HandlerManifest.json')).then((s) => s.isFile(), () => false);
      if (hasManifest) versions.push(v);
    }
    versions.sort((a, b) => compareVersions(b, a));
    const newest = versions[0];
    const rebuilt: HandlerRecord = newest
      ? Object.freeze({ ...emptyRecord(name), state: 'Installed', version: newest })
      : emptyRecord(name);
    await this.save(rebuilt);
    this.opts.onCorrupt?.({ file, movedTo, rebuilt, error });
    return rebuilt;
  }
}
