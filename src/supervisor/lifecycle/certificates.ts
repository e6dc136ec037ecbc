/**
 * Certificates for protected settings. HandlerUtil-based extensions (CustomScript and most of
 * azure-linux-extensions) decrypt protectedSettings with `<thumbprint>.crt` and `<thumbprint>.prv`
 * from the Azure agent's folder, /var/lib/waagent. When the goal state names a folder of
 * certificates, the supervisor puts the ones a handler's extensions name there before its
 * commands run (0600, as the agent writes them), and removes the ones it put there once no
 * handler needs them. A ledger (<lib>/certificates.json: thumbprint -> handlers, and whether the
 * supervisor placed the files) tells what is ours: files it found there are never removed.
 * Certificate contents are copied file to file, never read into a message, log or report.
 */
import { chmod, copyFile, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { atomicWriteJson } from '../../storage/atomic-write.js';
import { ensureDir, type SupervisorDirs } from '../../storage/dirs.js';

/** Where the Azure agent keeps certificates, and where HandlerUtil reads them. */
export const AGENT_CERT_DIR = '/var/lib/waagent';

/** A thumbprint names two files: letters and digits only, so it can never be a path. */
const THUMBPRINT = /^[A-Za-z0-9]{1,128}$/;

interface LedgerEntry { handlers: string[]; placed: boolean }
type Ledger = Record<string, LedgerEntry>;

const ledgerFile = (dirs: SupervisorDirs): string => join(dirs.libDir, 'certificates.json');

async function loadLedger(dirs: SupervisorDirs): Promise<Ledger> {
  try {
    const v = JSON.parse(await readFile(ledgerFile(dirs), 'utf8')) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? v as Ledger : {};
  } catch {
    return {};
  }
}

// Handler actors run in parallel: ledger updates of one lib dir are serialised.
const queues = new Map<string, Promise<unknown>>();
function serialised<T>(dirs: SupervisorDirs, fn: () => Promise<T>): Promise<T> {
  const prev = queues.get(dirs.libDir) ?? Promise.resolve();
  const next = prev.then(fn, fn);
  queues.set(dirs.libDir, next.catch(() => undefined));
  return next;
}

const exists = (path: string) => stat(path).then(() => true, () => false);

export interface PlaceInput {
  readonly dirs: SupervisorDirs;
  readonly handler: string;
  readonly folder: string;
  readonly thumbprints: readonly string[];
  /** Default AGENT_CERT_DIR. */
  readonly agentDir?: string;
}

/** Puts the certificates a handler's extensions name where HandlerUtil reads them; returns the thumbprints not found in the folder. */
export function placeCertificates(input: PlaceInput): Promise<string[]> {
  const agentDir = input.agentDir ?? AGENT_CERT_DIR;
  return serialised(input.dirs, async () => {
    const ledger = await loadLedger(input.dirs);
    const missing: string[] = [];
    for (const t of new Set(input.thumbprints.filter((x) => THUMBPRINT.test(x)))) {
      const files = ['crt', 'prv'].map((ext) => ({ from: join(input.folder, `${t}.${ext}`), to: join(agentDir, `${t}.${ext}`) }));
      if (!(await Promise.all(files.map((f) => exists(f.from)))).every(Boolean)) { missing.push(t); continue; }
      // Files found there before the supervisor needed them are the agent's (or the operator's): used, never replaced or removed.
      const entry = ledger[t] ?? { handlers: [], placed: !(await Promise.all(files.map((f) => exists(f.to)))).every(Boolean) };
      if (entry.placed) {
        await ensureDir(agentDir, 0o700);
        for (const f of files) {
          const tmp = `${f.to}.next`;
          await copyFile(f.from, tmp);
          await chmod(tmp, 0o600);
          await rename(tmp, f.to);
        }
      }
      ledger[t] = { handlers: [...new Set([...entry.handlers, input.handler])], placed: entry.placed };
    }
    await atomicWriteJson(ledgerFile(input.dirs), ledger, { mode: 0o600 });
    return missing;
  });
}

/** The handler is gone: certificates no other handler needs, and that the supervisor placed, are removed. */
export function releaseCertificates(dirs: SupervisorDirs, handler: string, agentDir = AGENT_CERT_DIR): Promise<string[]> {
  return serialised(dirs, async () => {
    const ledger = await loadLedger(dirs);
    if (Object.keys(ledger).length === 0) return [];
    const removed: string[] = [];
    for (const [t, entry] of Object.entries(ledger)) {
      if (!entry.handlers.includes(handler)) continue;
      entry.handlers = entry.handlers.filter((h) => h !== handler);
      if (entry.handlers.length > 0) continue;
      if (entry.placed && THUMBPRINT.test(t)) {
        await Promise.all(['crt', 'prv'].map((ext) => rm(join(agentDir, `${t}.${ext}`), { force: true })));
        removed.push(t);
      }
      delete ledger[t];
    }
    if (Object.keys(ledger).length === 0) await rm(ledgerFile(dirs), { force: true });
    else await atomicWriteJson(ledgerFile(dirs), ledger, { mode: 0o600 });
    return removed;
  });
}
