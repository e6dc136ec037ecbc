/**
 * config/<seq>.settings and the settings/status file names (CONTRACT section 3), as the
 * Azure agent's update_settings writes them: all three handlerSettings keys always
 * present, a missing value written as null (handlers test `protectedSettings` for null,
 * so dropping the key would change what they see); no extension: an empty 0.settings.
 */
import { SupervisorError, ValidationError, type Problem } from '../core/errors.js';
import { asRecord, decodeText, tryParseJson } from './lenient.js';

/** What one extension gives its handler. */
export interface HandlerSettings {
  readonly publicSettings: unknown;
  readonly protectedSettings: unknown;
  readonly protectedSettingsCertThumbprint: string | null;
}

/** The sequence number used when a handler has no extension (the agent's _DEFAULT_SEQ_NO). */
export const DEFAULT_SEQUENCE_NUMBER = 0;

const EXT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const SEQ_FILE = /^(?:(.+)\.)?(\d+)\.(settings|status)$/;

/** Renders `{"runtimeSettings":[{"handlerSettings":{...}}]}`; undefined values become null. */
export function formatSettings(ext: HandlerSettings): string {
  const handlerSettings = {
    publicSettings: ext.publicSettings ?? null,
    protectedSettings: ext.protectedSettings ?? null,
    protectedSettingsCertThumbprint: ext.protectedSettingsCertThumbprint ?? null,
  };
  return JSON.stringify({ runtimeSettings: [{ handlerSettings }] });
}

/** Content of the 0.settings written for a handler without extensions: empty, as the agent writes it. */
export function emptySettings(): string {
  return '';
}

/** Reads a settings file back; null for the empty no-extension file. Throws ValidationError naming file and field. */
export function parseSettings(text: string | Uint8Array, source: string): HandlerSettings | null {
  const body = decodeText(text);
  if (body.trim() === '') return null;
  const parsed = tryParseJson(body);
  if (!parsed.ok) throw new ValidationError(source, [{ source, path: '(root)', reason: `not valid JSON: ${parsed.error}` }]);
  const runtime = asRecord(parsed.value)?.['runtimeSettings'];
  const handler = Array.isArray(runtime) ? asRecord(asRecord(runtime[0])?.['handlerSettings']) : undefined;
  if (!handler) {
    throw new ValidationError(source, [{ source, path: 'runtimeSettings[0].handlerSettings', reason: 'must be an object', value: parsed.value }]);
  }
  const thumbprint = handler['protectedSettingsCertThumbprint'] ?? null;
  if (thumbprint !== null && typeof thumbprint !== 'string') {
    const problem: Problem = { source, path: 'runtimeSettings[0].handlerSettings.protectedSettingsCertThumbprint', reason: 'must be a string or null', value: thumbprint };
    throw new ValidationError(source, [problem]);
  }
  return Object.freeze({
    publicSettings: handler['publicSettings'] ?? null,
    protectedSettings: handler['protectedSettings'] ?? null,
    protectedSettingsCertThumbprint: thumbprint,
  });
}

function seqFileName(kind: 'settings' | 'status', ext: string, seq: number, multiConfig: boolean): string {
  if (!Number.isSafeInteger(seq) || seq < 0) {
    throw new SupervisorError('E_BAD_FILE_NAME', `${kind} file name: sequence number must be a non-negative integer (got ${String(seq)})`, { kind, seq });
  }
  if (!multiConfig) return `${seq}.${kind}`;
  // The name becomes part of a path: refuse anything that could be a separator or `..`.
  if (typeof ext !== 'string' || !EXT_NAME.test(ext) || ext.includes('..')) {
    throw new SupervisorError('E_BAD_FILE_NAME', `${kind} file name: extension name ${JSON.stringify(ext)} is not a safe file name`, { kind, ext });
  }
  return `${ext}.${seq}.${kind}`;
}

/** `3.settings`, or `<ext>.3.settings` for a handler with several extensions (the agent's multi-config naming). */
export function settingsFileName(ext: string, seq: number, multiConfig: boolean): string {
  return seqFileName('settings', ext, seq, multiConfig);
}

/** `3.status`, or `<ext>.3.status` for a handler with several extensions. */
export function statusFileName(ext: string, seq: number, multiConfig: boolean): string {
  return seqFileName('status', ext, seq, multiConfig);
}

/** Splits a settings or status file name back into extension (null when single-config) and sequence number. */
export function parseSeqFileName(fileName: string): { ext: string | null; seq: number; kind: 'settings' | 'status' } | null {
  const match = SEQ_FILE.exec(fileName);
  if (!match) return null;
  const seq = Number(match[2]);
  if (!Number.isSafeInteger(seq)) return null;
  return { ext: match[1] ?? null, seq, kind: match[3] as 'settings' | 'status' };
}
