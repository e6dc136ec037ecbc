/** Settings fingerprints: an enable runs again only when a sequence number rose or these changed. */
import { createHash } from 'node:crypto';
import type { EnabledExtension } from './record.js';

export interface ExtensionSettings {
  readonly name: string;
  readonly sequenceNumber: number;
  readonly publicSettings: unknown;
  readonly protectedSettings: unknown;
  readonly protectedSettingsCertThumbprint: string | null;
}

/** Stable JSON (sorted keys) so that key order in the goal state does not count as a change. */
function stable(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stable).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.keys(value as object).sort().map((k) => `${JSON.stringify(k)}:${stable((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

export function settingsHash(ext: ExtensionSettings): string {
  return createHash('sha256')
    .update(stable([ext.publicSettings, ext.protectedSettings, ext.protectedSettingsCertThumbprint]))
    .digest('hex');
}

export function enabledSnapshot(exts: readonly ExtensionSettings[]): Record<string, EnabledExtension> {
  const out: Record<string, EnabledExtension> = {};
  for (const e of exts) out[e.name] = { sequenceNumber: e.sequenceNumber, settingsHash: settingsHash(e) };
  return out;
}

/** Extensions whose enable must run again: new, sequence number rose, or settings changed. */
export function changedExtensions(exts: readonly ExtensionSettings[], enabled: Readonly<Record<string, EnabledExtension>>): string[] {
  return exts.filter((e) => {
    const last = enabled[e.name];
    return !last || e.sequenceNumber > last.sequenceNumber || settingsHash(e) !== last.settingsHash;
  }).map((e) => e.name);
}
