/**
 * Bench workspaces and handler packages: real zips packed the way `supervisor pack` packs them,
 * one per handler, from the shell programs in bench/fixtures/, and goal states pointing at them.
 */
import { copyFile, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packDirectory } from '../src/supervisor/packages/pack.js';
import { libIdOf } from '../src/storage/dirs.js';

export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

/**
 * What a bench handler does. trivial: install `exit 0`, enable writes its status file (builtins
 * only: one `sh -c` each, the cost the floor measures); heartbeat: enable also starts a writer of
 * heartbeat.log; service: enable also starts an idle loop (the peers' program); hang: while the
 * workspace's hang flag exists, enable never ends and ignores SIGTERM, with a setsid grandchild.
 */
export type HandlerKind = 'trivial' | 'heartbeat' | 'service' | 'hang';

export interface BuiltHandler {
  readonly name: string;
  readonly version: string;
  readonly sha256: string;
  readonly uri: string;
}

const STATUS_JSON = JSON.stringify([{ version: '1.0', timestampUTC: '2025-01-01T00:00:00Z', status: {
  name: 'bench', operation: 'Enable', status: 'success', code: 0, formattedMessage: { lang: 'en-US', message: 'enabled' } } }]);
const WRITE_STATUS = `printf '%s' '${STATUS_JSON}' > status/$ConfigSequenceNumber.status`;

function commandsOf(kind: HandlerKind, heartbeatPeriodSec: number, hangFlag: string): { manifest: Record<string, unknown>; files: string[] } {
  const base = { installCommand: 'exit 0', uninstallCommand: 'exit 0', updateCommand: 'exit 0', disableCommand: 'exit 0', reportHeartbeat: false };
  switch (kind) {
    case 'trivial':
      return { manifest: { ...base, enableCommand: WRITE_STATUS }, files: [] };
    case 'heartbeat':
      return { manifest: { ...base, reportHeartbeat: true,
        enableCommand: `sh heartbeat.sh ${heartbeatPeriodSec} </dev/null >/dev/null 2>&1 & ${WRITE_STATUS}` }, files: ['heartbeat.sh'] };
    case 'service':
      return { manifest: { ...base, enableCommand: `sh loop.sh </dev/null >/dev/null 2>&1 & ${WRITE_STATUS}` }, files: ['loop.sh'] };
    case 'hang':
      // Hangs only once the flag file exists: the first apply installs and enables them all quickly, the next one hangs them together.
      return { manifest: { ...base, enableCommand: `[ -e '${hangFlag}' ] && exec sh hang.sh; ${WRITE_STATUS}` }, files: ['hang.sh'] };
  }
}

/** A temp folder with lib/, log/ and pkgs/; every process the supervisor starts for it carries `libId`. */
/** The dirs of one supervisor instance and the lib id its processes are marked with. */
export interface SupervisorDirs {
  readonly libDir: string;
  readonly logDir: string;
  readonly libId: string;
  readonly dirFlags: string[];
}

export class BenchWorkspace {
  private constructor(readonly root: string) {}

  static async create(prefix: string): Promise<BenchWorkspace> {
    const ws = new BenchWorkspace(await mkdtemp(join(tmpdir(), `bench-${prefix}-`)));
    await mkdir(join(ws.root, 'pkgs'), { recursive: true });
    return ws;
  }

  get libDir(): string { return join(this.root, 'lib'); }
  get logDir(): string { return join(this.root, 'log'); }
  get libId(): string { return libIdOf(this.libDir); }
  /** 'hang' handlers hang in enable only while this file exists. */
  get hangFlag(): string { return join(this.root, 'hang-now'); }
  /** --lib-dir/--log-dir for every CLI call on this workspace. */
  get dirFlags(): string[] { return ['--lib-dir', this.libDir, '--log-dir', this.logDir]; }

  /** Another lib/log pair in this workspace (several supervisor runs sharing its packages). */
  instance(label: string): SupervisorDirs {
    const libDir = join(this.root, `lib-${label}`);
    const logDir = join(this.root, `log-${label}`);
    return { libDir, logDir, libId: libIdOf(libDir), dirFlags: ['--lib-dir', libDir, '--log-dir', logDir] };
  }

  /** Packs `count` handlers named `<prefix>.H0001`...; zips are built in parallel batches. */
  async buildHandlers(kind: HandlerKind, count: number, opts: { prefix?: string; heartbeatPeriodSec?: number } = {}): Promise<BuiltHandler[]> {
    const { manifest, files } = commandsOf(kind, opts.heartbeatPeriodSec ?? 10, this.hangFlag);
    const names = Array.from({ length: count }, (_, i) => `${opts.prefix ?? 'Bench'}.H${String(i + 1).padStart(4, '0')}`);
    const out: BuiltHandler[] = [];
    for (let i = 0; i < names.length; i += 32) {
      out.push(...await Promise.all(names.slice(i, i + 32).map(async (name) => {
        const src = join(this.root, 'src', name);
        await mkdir(src, { recursive: true });
        await writeFile(join(src, 'HandlerManifest.json'), JSON.stringify([{ name, version: '1.0.0', handlerManifest: manifest }]));
        for (const f of files) await copyFile(join(FIXTURES, f), join(src, f));
        const file = join(this.root, 'pkgs', `${name}-1.0.0.zip`);
        const packed = await packDirectory(src, file);
        return { name, version: '1.0.0', sha256: packed.sha256, uri: `file://${file}` };
      })));
    }
    return out;
  }

  /** Writes a goal-state document atomically enough for a watcher (write then rename) and returns its path. */
  async writeGoal(doc: unknown, file = 'goal.json'): Promise<string> {
    const path = join(this.root, file);
    await writeFile(`${path}.tmp`, JSON.stringify(doc));
    await rename(`${path}.tmp`, path);
    return path;
  }

  async dispose(): Promise<void> {
    await rm(this.root, { recursive: true, force: true, maxRetries: 3 });
  }
}

/** Per-handler goal-state fields on top of the defaults. */
export interface EntryOptions {
  readonly state?: 'enabled' | 'disabled' | 'uninstall';
  readonly heartbeatTimeout?: number;
  readonly timeouts?: Record<string, number>;
  readonly sequenceNumber?: number;
}

/** A goal state for these handlers (one extension each, so each has one status file). */
export function goalState(handlers: readonly BuiltHandler[], opts: EntryOptions & { etag?: string } = {}): Record<string, unknown> {
  return {
    ...(opts.etag ? { etag: opts.etag } : {}),
    handlers: handlers.map((h) => ({
      name: h.name, version: '1.0', state: opts.state ?? 'enabled',
      packages: [{ version: h.version, sha256: h.sha256, uris: [h.uri] }],
      extensions: [{ name: 'default', sequenceNumber: opts.sequenceNumber ?? 1, publicSettings: { bench: true } }],
      ...(opts.heartbeatTimeout !== undefined ? { heartbeatTimeout: opts.heartbeatTimeout } : {}),
      ...(opts.timeouts ? { timeouts: opts.timeouts } : {}),
    })),
  };
}
