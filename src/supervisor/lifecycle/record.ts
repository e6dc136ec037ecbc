/**
 * The persisted lifecycle of one handler and the ONE function through which it changes
 * (STYLE habit 2: never a status string mutated from many places).
 */
import { SupervisorError } from '../../core/errors.js';
import { pendingFromJson, type PendingPlan } from './pending-plan.js';
import type { LifecycleState } from '../../protocol/ps-rows.js';


export type { LifecycleState };

/** What the last successful enable saw of one extension, to decide whether to enable again. */
export interface EnabledExtension {
  readonly sequenceNumber: number;
  readonly settingsHash: string;
}

export interface HandlerRecord {
  readonly schema: 1;
  readonly name: string;
  readonly state: LifecycleState;
  /**
   * The installed version (its dir is <lib>/<name>-<version>). NotInstalled: null, or the version
   * whose first install failed, its dir still on disk until the handler is uninstalled.
   */
  readonly version: string | null;
  /** FailedUpgrade only: the old version, still on disk beside the new one. */
  readonly previousVersion: string | null;
  /** Handler form of the installed manifest, so tools can tell without reading it. */
  readonly form: 'command' | 'script' | null;
  readonly enabledExtensions: Readonly<Record<string, EnabledExtension>>;
  /** When the last successful enable ended (ms since epoch): the heartbeat's grace starts here. */
  readonly enabledAt: number | null;
  /** The plan being carried out, checkpointed before and after every command (see progress.ts). */
  readonly pending: PendingPlan | null;
}

export type LifecycleEvent =
  | { readonly type: 'installed'; readonly version: string; readonly form: 'command' | 'script' }
  | { readonly type: 'enabled'; readonly extensions: Readonly<Record<string, EnabledExtension>>; readonly at: number }
  | { readonly type: 'disabled' }
  /** A first install failed after its package was staged: still NotInstalled, the dir remembered so that uninstall removes it. */
  | { readonly type: 'installFailed'; readonly version: string; readonly form: 'command' | 'script' | null }
  | { readonly type: 'upgraded'; readonly version: string; readonly form: 'command' | 'script' }
  | { readonly type: 'upgradeFailed'; readonly version: string; readonly previousVersion: string; readonly form: 'command' | 'script' }
  /** A failed upgrade is abandoned: its new dir is gone, the old version is the installed one again. */
  | { readonly type: 'rolledBack' }
  | { readonly type: 'uninstalled' };

export function emptyRecord(name: string): HandlerRecord {
  return Object.freeze({ schema: 1, name, state: 'NotInstalled', version: null, previousVersion: null, form: null,
    enabledExtensions: Object.freeze({}), enabledAt: null, pending: null });
}

const allowed: Readonly<Record<LifecycleEvent['type'], readonly LifecycleState[]>> = {
  installed: ['NotInstalled'],
  installFailed: ['NotInstalled'],
  enabled: ['Installed', 'Enabled'],
  disabled: ['Enabled'],
  // An upgrade starts from an installed (or half-upgraded) handler; the old side was disabled first.
  upgraded: ['Installed', 'Enabled', 'FailedUpgrade'],
  upgradeFailed: ['Installed', 'Enabled', 'FailedUpgrade'],
  rolledBack: ['FailedUpgrade'],
  uninstalled: ['Installed', 'Enabled', 'FailedUpgrade', 'NotInstalled'],
};

/** Applies one lifecycle event; an event not allowed in the current state is a bug, so it throws. */
export function transition(record: HandlerRecord, event: LifecycleEvent): HandlerRecord {
  if (!allowed[event.type].includes(record.state)) {
    throw new SupervisorError('E_ILLEGAL_TRANSITION',
      `handler ${record.name}: event "${event.type}" is not allowed in state ${record.state}`,
      { handler: record.name, state: record.state, event: event.type });
  }
  const next = ((): Omit<HandlerRecord, 'schema' | 'name' | 'pending'> => {
    switch (event.type) {
      case 'installed':
        return { state: 'Installed', version: event.version, previousVersion: null, form: event.form, enabledExtensions: {}, enabledAt: null };
      case 'installFailed':
        return { state: 'NotInstalled', version: event.version, previousVersion: null, form: event.form, enabledExtensions: {}, enabledAt: null };
      case 'enabled':
        return { ...record, state: 'Enabled', enabledExtensions: event.extensions, enabledAt: event.at };
      case 'disabled':
        return { ...record, state: 'Installed', enabledAt: null };
      case 'upgraded':
        return { state: 'Installed', version: event.version, previousVersion: null, form: event.form, enabledExtensions: {}, enabledAt: null };
      case 'upgradeFailed':
        return { state: 'FailedUpgrade', version: event.version, previousVersion: event.previousVersion, form: event.form,
          enabledExtensions: {}, enabledAt: null };
      case 'rolledBack':
        return { state: 'Installed', version: record.previousVersion, previousVersion: null, form: record.form, enabledExtensions: {}, enabledAt: null };
      case 'uninstalled':
        return { state: 'NotInstalled', version: null, previousVersion: null, form: null, enabledExtensions: {}, enabledAt: null };
    }
  })();
  return Object.freeze({ schema: 1, name: record.name, ...next, enabledExtensions: Object.freeze({ ...next.enabledExtensions }),
    pending: record.pending });
}

/** Reads a record from its JSON form, tolerating nothing: a bad file is reported by the caller. */
export function recordFromJson(value: unknown, source: string): HandlerRecord {
  const v = value as Partial<HandlerRecord> | null;
  const states: readonly string[] = ['NotInstalled', 'Installed', 'Enabled', 'FailedUpgrade'];
  if (!v || typeof v !== 'object' || v.schema !== 1 || typeof v.name !== 'string' || !states.includes(String(v.state))) {
    throw new SupervisorError('E_STATE_CORRUPT', `${source}: not a handler state record`, { source });
  }
  return Object.freeze({
    schema: 1,
    name: v.name,
    state: v.state as LifecycleState,
    version: typeof v.version === 'string' ? v.version : null,
    previousVersion: typeof v.previousVersion === 'string' ? v.previousVersion : null,
    form: v.form === 'command' || v.form === 'script' ? v.form : null,
    enabledExtensions: Object.freeze({ ...(v.enabledExtensions ?? {}) }),
    enabledAt: typeof v.enabledAt === 'number' ? v.enabledAt : null,
    pending: pendingFromJson(v.pending),
  });
}
