/**
 * Version policy (CONTRACT section 2): which available package a handler gets, and whether
 * moving from the installed version to it is allowed. Pure functions, no I/O.
 */
import { SupervisorError } from '../../core/errors.js';
import { compareVersions, majorOf, parseVersion, versionStartsWith } from './version.js';

export type UpgradePolicy = 'manual' | 'auto';
export type VersionMove = 'upgrade' | 'same' | 'downgrade';

/**
 * Picks the package version for a handler: `auto` = highest with the requested major,
 * `manual` = highest whose parts start with the requested parts. Throws E_NO_MATCHING_PACKAGE.
 * On equal versions ("1.2" and "1.2.0") the first one listed wins, so the choice is stable.
 */
export function chooseVersion(requested: string, policy: UpgradePolicy, available: readonly string[]): string {
  const want = parseVersion(requested);
  const matches = policy === 'auto'
    ? (v: string) => majorOf(v) === majorOf(want)
    : (v: string) => versionStartsWith(v, want);
  let best: string | undefined;
  for (const candidate of available) {
    parseVersion(candidate); // an unparseable candidate is an input error, not a silent skip
    if (matches(candidate) && (best === undefined || compareVersions(candidate, best) > 0)) best = candidate;
  }
  if (best === undefined) {
    const rule = policy === 'auto' ? `major version ${majorOf(want)}` : `a version starting with ${requested}`;
    const list = available.length ? available.join(', ') : 'none';
    throw new SupervisorError('E_NO_MATCHING_PACKAGE',
      `no package matches version ${requested} (upgradePolicy ${policy}: needs ${rule}); available: ${list}`,
      { requested, policy, available: [...available] });
  }
  return best;
}

/** Classifies installed -> chosen; a downgrade throws E_DOWNGRADE unless `allowDowngrade`. */
export function checkDowngrade(installed: string, chosen: string, allowDowngrade: boolean): VersionMove {
  const order = compareVersions(chosen, installed);
  if (order > 0) return 'upgrade';
  if (order === 0) return 'same';
  if (!allowDowngrade) {
    throw new SupervisorError('E_DOWNGRADE',
      `refusing to downgrade from ${installed} to ${chosen}: set "allowDowngrade": true in the goal state to allow it`,
      { installed, chosen });
  }
  return 'downgrade';
}
