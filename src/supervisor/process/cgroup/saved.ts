/**
 * The daemon's chosen groups, written to `<lib>/cgroups.json` at start, so `ps` and `status`
 * without a daemon read the same groups (its subtree may be a systemd unit's, which the CLI
 * could not guess) and never create one.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CgroupLayout, Controller, V1Name } from './detect.js';
import { CgroupGroups } from './groups.js';

const FILE = 'cgroups.json';

export function saveLayout(libDir: string, layout: CgroupLayout | null): void {
  const text = layout === null ? 'null' : JSON.stringify({ v2: layout.v2, v1: [...layout.v1], where: layout.where, notes: layout.notes });
  writeFileSync(join(libDir, FILE), `${text}\n`, { mode: 0o600 });
}

/** The saved groups, or null (no daemon ever chose cgroups, the file is unreadable, or its groups are gone). */
export function loadSavedGroups(libDir: string): CgroupGroups | null {
  try {
    const raw = JSON.parse(readFileSync(join(libDir, FILE), 'utf8')) as
      { v2: string | null; v1: Array<[V1Name, string]>; where: Record<Controller, 'v2' | 'v1' | null>; notes: string[] } | null;
    if (raw === null) return null;
    const layout: CgroupLayout = { v2: raw.v2, v1: new Map(raw.v1), where: raw.where, notes: raw.notes };
    const membership = layout.v2 ?? layout.v1.values().next().value;
    return membership !== undefined && existsSync(membership) ? new CgroupGroups(layout) : null;
  } catch {
    return null;
  }
}
