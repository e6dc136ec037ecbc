/**
 * Goal-state applications as sessions (CONTRACT section 8, plainbox's session storage):
 * `<lib>/sessions/<id>/session` written atomically (.next, fsync, rename, fsync dir), and
 * `<lib>/sessions/last-session` a symlink to the newest, replaced atomically. The newest 20
 * are kept.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile, readlink, rename, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { atomicWrite, atomicWriteJson, syncDir } from './atomic-write.js';
import { ensureDir } from './dirs.js';

/** `superseded`: no handler failed, and a newer goal state took over at least one before it started. */
export type SessionResult = 'running' | 'succeeded' | 'failed' | 'interrupted' | 'superseded';

export interface SessionOperation {
  readonly name: string;
  readonly version: string;
  readonly extension: string | null;
  readonly result: 'running' | 'succeeded' | 'failed' | 'timedOut';
  readonly exitCode: number | null;
  readonly code: number;
  readonly startedAt: string;
  readonly endedAt: string | null;
}

export interface SessionHandler {
  readonly desiredState: string;
  readonly version: string;
  /** What the plan did: install, enable, upgrade, ... none, blocked. */
  readonly action: string | null;
  readonly reached: boolean | null;
  readonly status: string | null;
  readonly code: number | null;
  readonly message: string | null;
  /** The plan's steps (as text) and how many have completed: what a restarted daemon resumes from. */
  readonly steps?: readonly string[];
  readonly completedSteps?: number;
  readonly inProgress?: SessionOperation | null;
  readonly operations: readonly SessionOperation[];
}

export interface SessionDoc {
  readonly schema: 1;
  readonly id: string;
  readonly kind: 'apply' | 'run';
  readonly source: string;
  readonly etag: string | null;
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly result: SessionResult;
  readonly handlers: Readonly<Record<string, SessionHandler>>;
  readonly counts: { readonly handlers: number; readonly reached: number; readonly failed: number };
  /** When a supervisor started again and went on with this session after it was interrupted. */
  readonly resumedAt?: readonly string[];
  /** Sessions of the same daemon still running when this one began (goal states do not wait for each other). */
  readonly alongside?: readonly string[];
}

export const KEEP_SESSIONS = 20;
export const LAST_SESSION = 'last-session';

export function sessionsDir(libDir: string): string {
  return join(libDir, 'sessions');
}

/** Sortable ids: time first, then randomness so two sessions in one millisecond differ. */
export function newSessionId(now: number): string {
  return `${new Date(now).toISOString().replace(/[-:]/g, '').replace('.', '')}-${randomBytes(3).toString('hex')}`;
}

export class SessionStore {
  constructor(private readonly libDir: string, private readonly keep = KEEP_SESSIONS) {}

  private file(id: string): string {
    return join(sessionsDir(this.libDir), id, 'session');
  }

  /**
   * Writes the session (first write creates its folder and points last-session at it). `first`
   * false: the writer knows it is not (a long session pruned meanwhile must not take last-session back).
   */
  async write(doc: SessionDoc, first?: false): Promise<void> {
    return this.writeText(doc.id, JSON.stringify(doc), first);
  }

  /**
   * write() of a document the caller serialised itself (`JSON.stringify(doc)`): the recorder
   * snapshots a live session that way, once, instead of cloning it and serialising the clone.
   */
  async writeText(id: string, json: string, first?: false): Promise<void> {
    const dir = join(sessionsDir(this.libDir), id);
    const fresh = first ?? !(await readFile(this.file(id)).then(() => true, () => false));
    await ensureDir(dir, 0o700);
    await atomicWrite(this.file(id), `${json}\n`, { mode: 0o600 });
    if (fresh) {
      await this.pointLast(id);
      await this.prune();
    }
  }

  /** The goal state a session applies, kept beside it so the session can be finished after a crash. */
  async writeGoal(id: string, goal: unknown): Promise<void> {
    await ensureDir(join(sessionsDir(this.libDir), id), 0o700);
    await atomicWriteJson(join(sessionsDir(this.libDir), id, 'goal-state.json'), goal, { mode: 0o600 });
  }

  async readGoalText(id: string): Promise<string | null> {
    return readFile(join(sessionsDir(this.libDir), id, 'goal-state.json'), 'utf8').catch(() => null);
  }

  async read(id: string): Promise<SessionDoc | null> {
    try {
      return JSON.parse(await readFile(this.file(id), 'utf8')) as SessionDoc;
    } catch {
      return null;
    }
  }

  /**
   * The newest session: the one last-session names, unless a newer folder holds a session. The
   * link is replaced after a session's first write, so a crash between the two leaves it naming
   * the one before (or missing, in a fresh lib dir), and that newer session is the one to resume.
   */
  async last(): Promise<SessionDoc | null> {
    const target = await readlink(join(sessionsDir(this.libDir), LAST_SESSION)).catch(() => null);
    const ids = await this.ids();
    for (let i = ids.length - 1; i >= 0 && (target === null || ids[i]! > target); i--) {
      const doc = await this.read(ids[i]!);
      if (doc) return doc;
    }
    if (target) {
      const doc = await this.read(target);
      if (doc) return doc;
    }
    return target === null || ids.length === 0 ? null : this.read(ids[ids.length - 1]!);
  }

  /** Points last-session at `id` unless it does already: a session resumed after a crash that came before its link. */
  async ensureLast(id: string): Promise<void> {
    const target = await readlink(join(sessionsDir(this.libDir), LAST_SESSION)).catch(() => null);
    if (target !== id) await this.pointLast(id);
  }

  /** Every kept session, oldest first. */
  async list(): Promise<SessionDoc[]> {
    const docs = await Promise.all((await this.ids()).map((id) => this.read(id)));
    return docs.filter((d): d is SessionDoc => d !== null);
  }

  async ids(): Promise<string[]> {
    const entries = await readdir(sessionsDir(this.libDir), { withFileTypes: true }).catch(() => []);
    return entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  }

  /** Replaces the link atomically: a new link beside it, renamed over the old one. */
  private async pointLast(id: string): Promise<void> {
    const dir = sessionsDir(this.libDir);
    const tmp = join(dir, `${LAST_SESSION}.next`);
    await rm(tmp, { force: true });
    await symlink(id, tmp);
    await rename(tmp, join(dir, LAST_SESSION));
    await syncDir(dir);
  }

  private async prune(): Promise<void> {
    const ids = await this.ids();
    for (const id of ids.slice(0, Math.max(0, ids.length - this.keep))) {
      await rm(join(sessionsDir(this.libDir), id), { recursive: true, force: true });
    }
  }
}
