import { createWriteStream } from 'node:fs';
import { lstat, link, mkdir, chmod, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SupervisorError, showValue } from '../../core/errors.js';
import { entryParts, LinkTable } from './entry-paths.js';
import { PACKAGE_ERROR } from './limits.js';

/** The limits extraction enforces, and the flag that tells it to stop early. */
export interface SinkOptions {
  readonly maxEntries: number;
  readonly maxUncompressedBytes: number;
  /** Polled between entries and chunks: true when the caller gave up. */
  readonly aborted: () => boolean;
}

// Group/other write and setuid/setgid/sticky bits never survive extraction.
const FILE_MASK = 0o755;

/**
 * Where both archive readers write: checks every name, counts entries and bytes as written,
 * and creates links only at the end, once every link in the archive is known (so no file is
 * ever written through a link, and chained links are judged as a whole).
 */
export class ExtractSink {
  entries = 0;
  bytes = 0;
  private readonly links = new LinkTable();
  private readonly symlinks: { parts: string[]; target: string; entry: string }[] = [];
  private readonly hardlinks: { parts: string[]; source: string[]; entry: string; linkpath: string }[] = [];

  constructor(private readonly root: string, private readonly opts: SinkOptions) {}

  /** Counts one archive entry; throws when over the entry cap or aborted. */
  countEntry(entry: string): void {
    this.checkAborted();
    if (++this.entries > this.opts.maxEntries) {
      throw new SupervisorError(PACKAGE_ERROR.tooLarge, `more than ${this.opts.maxEntries} entries (at entry ${showValue(entry)})`,
        { entry, limit: this.opts.maxEntries });
    }
  }

  /** Creates a folder entry (the root itself is skipped). */
  async directory(entry: string, mode: number | undefined): Promise<void> {
    const parts = entryParts(entry);
    if (parts.length === 0) return;
    const path = join(this.root, ...parts);
    await this.guard(entry, async () => {
      await mkdir(path, { recursive: true, mode: 0o755 });
      if (!(await lstat(path)).isDirectory()) throw Object.assign(new Error('not a folder'), { code: 'EEXIST' });
      await chmod(path, ((mode ?? 0o755) & FILE_MASK) | 0o700);
    });
  }

  /** Writes a regular file from `source`, counting bytes as they are written. */
  async file(entry: string, mode: number | undefined, source: Readable): Promise<void> {
    const parts = entryParts(entry);
    if (parts.length === 0) throw this.formatError(entry, 'a file entry needs a name');
    const path = join(this.root, ...parts);
    await this.guard(entry, async () => {
      await mkdir(dirname(path), { recursive: true, mode: 0o755 });
      const counter = new Transform({
        transform: (chunk: Buffer, _enc, done) => {
          this.bytes += chunk.length;
          if (this.opts.aborted()) return done(this.abortError());
          if (this.bytes > this.opts.maxUncompressedBytes) {
            return done(new SupervisorError(PACKAGE_ERROR.tooLarge,
              `more than ${this.opts.maxUncompressedBytes} bytes once extracted (at entry ${showValue(entry)})`,
              { entry, limit: this.opts.maxUncompressedBytes }));
          }
          done(null, chunk);
        },
      });
      // 'wx' refuses duplicates, and never follows a link left at the path.
      const out = createWriteStream(path, { flags: 'wx', mode: ((mode ?? 0o644) & FILE_MASK) | 0o600 });
      await pipeline(source, counter, out);
    });
  }

  /** Records a symbolic link; it is checked and created by finish(). */
  symlink(entry: string, target: string): void {
    const parts = entryParts(entry);
    if (parts.length === 0) throw this.formatError(entry, 'a link entry needs a name');
    if (target.startsWith('/')) this.links.checkSymlink(parts, target, entry);
    this.links.add(parts, target);
    this.symlinks.push({ parts, target, entry });
  }

  /** Records a hard link to an earlier entry (`linkpath` is relative to the archive root). */
  hardlink(entry: string, linkpath: string): void {
    const parts = entryParts(entry);
    let source: string[];
    try { source = entryParts(linkpath); } catch (err) {
      const e = err as SupervisorError;
      throw new SupervisorError(e.code, `hard link ${showValue(entry)} points outside the package: ${showValue(linkpath)}`,
        { entry, value: linkpath });
    }
    if (parts.length === 0 || source.length === 0) throw this.formatError(entry, `invalid hard link to ${showValue(linkpath)}`);
    this.hardlinks.push({ parts, source, entry, linkpath });
  }

  /** Checks and creates the recorded links: hard links first, then symbolic links. */
  async finish(): Promise<void> {
    for (const h of this.hardlinks) {
      this.checkAborted();
      if (this.links.crossesLink(h.source)) throw this.formatError(h.entry, `hard link through a symbolic link: ${showValue(h.linkpath)}`);
      const from = join(this.root, ...h.source);
      const st = await lstat(from).catch(() => undefined);
      if (!st?.isFile()) throw this.formatError(h.entry, `hard link target ${showValue(h.linkpath)} is not a file of this package`);
      await this.guard(h.entry, async () => {
        await mkdir(dirname(join(this.root, ...h.parts)), { recursive: true, mode: 0o755 });
        await link(from, join(this.root, ...h.parts));
      });
    }
    for (const s of this.symlinks) this.links.checkSymlink(s.parts, s.target, s.entry);
    for (const s of this.symlinks) {
      this.checkAborted();
      const path = join(this.root, ...s.parts);
      await this.guard(s.entry, async () => {
        await mkdir(dirname(path), { recursive: true, mode: 0o755 });
        await symlink(s.target, path);
      });
    }
  }

  private checkAborted(): void {
    if (this.opts.aborted()) throw this.abortError();
  }

  private abortError(): SupervisorError {
    return new SupervisorError(PACKAGE_ERROR.aborted, 'extraction aborted');
  }

  private formatError(entry: string, reason: string): SupervisorError {
    return new SupervisorError(PACKAGE_ERROR.format, `entry ${showValue(entry)}: ${reason}`, { entry });
  }

  // Turns file-system errors into package errors that name the entry.
  private async guard(entry: string, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (err) {
      if (err instanceof SupervisorError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      const reason = code === 'EEXIST' ? 'appears twice, or collides with another entry'
        : code === 'ENOTDIR' ? 'is inside a path that another entry made a file'
          : (err as Error).message;
      throw new SupervisorError(PACKAGE_ERROR.format, `entry ${showValue(entry)} ${reason}`, { entry }, { cause: err });
    }
  }
}
