/**
 * Handler and package versions: 1 to 4 dot-separated non-negative integers (`1.0`, `2.2.53.1`),
 * compared numerically part by part with a missing part counting as 0.
 * semver is deliberately not used: `semver.coerce('2.2.53.1')` drops the 4th part, and strict
 * semver rejects `1.0`, `01.2` and 4-part versions that the Azure agent accepts.
 */
import { SupervisorError, showValue } from '../../core/errors.js';

/** A parsed version: 1 to 4 safe non-negative integers, as written (no padding). */
export type Version = readonly number[];

/** Anything the functions below accept as a version: text, a JSON number, or parsed parts. */
export type VersionLike = string | number | Version;

const VERSION_TEXT = /^\d+(?:\.\d+){0,3}$/;

/** Reads a version from text or a JSON number (1.3 is read as its decimal text "1.3"); throws E_VERSION. */
export function parseVersion(input: string | number): Version {
  // JSON has no version type: the Azure agent reads `"version": 1.3` as the float's text.
  const text = typeof input === 'number' ? (Number.isFinite(input) ? String(input) : '') : input;
  if (typeof text !== 'string' || !VERSION_TEXT.test(text)) {
    throw new SupervisorError('E_VERSION',
      `invalid version ${showValue(input)}: expected 1 to 4 dot-separated non-negative integers such as "1.0" or "2.2.53.1"`,
      { value: input });
  }
  const parts = text.split('.').map(Number);
  if (!parts.every(Number.isSafeInteger)) {
    throw new SupervisorError('E_VERSION', `invalid version ${showValue(input)}: a part is larger than ${Number.MAX_SAFE_INTEGER}`,
      { value: input });
  }
  return Object.freeze(parts);
}

/** True when `input` is a valid version; for validators that collect problems instead of throwing. */
export function isVersion(input: unknown): input is string | number {
  if (typeof input !== 'string' && typeof input !== 'number') return false;
  try { parseVersion(input); return true; } catch { return false; }
}

/** Normalizes any accepted version form to its parts. */
export function toVersion(v: VersionLike): Version {
  return typeof v === 'string' || typeof v === 'number' ? parseVersion(v) : v;
}

/** Orders two versions numerically part by part, a missing part counting as 0: -1, 0 or 1. */
export function compareVersions(a: VersionLike, b: VersionLike): -1 | 0 | 1 {
  const pa = toVersion(a);
  const pb = toVersion(b);
  const n = Math.max(pa.length, pb.length);
  for (let i = 0; i < n; i++) {
    const x = pa[i] ?? 0;
    const y = pb[i] ?? 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** Renders parts canonically (no leading zeros), as many parts as were written. */
export function formatVersion(v: VersionLike): string {
  return toVersion(v).join('.');
}

/** The major (first) part, which `upgradePolicy: "auto"` keeps fixed. */
export function majorOf(v: VersionLike): number {
  return toVersion(v)[0] ?? 0;
}

/** True when `v`, padded with zeros, begins with every part of `prefix` (`1.2` matches 1.2.0.7, not 1.20). */
export function versionStartsWith(v: VersionLike, prefix: VersionLike): boolean {
  const pv = toVersion(v);
  return toVersion(prefix).every((part, i) => (pv[i] ?? 0) === part);
}
