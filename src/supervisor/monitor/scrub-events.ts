/**
 * Texts a handler writes itself (status file messages, heartbeat messages) reach `ps`, `status`
 * and the reports: its protected values are masked in them as in its command output. The daemon
 * knows the values from the goal state; without a daemon they are read from the handler's own
 * settings files, since the session's goal-state copy has them blanked.
 */
import { constants } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { maskValues, protectedValues } from '../../core/redact.js';
import type { MonitorEvent } from './types.js';

/** The event with the handler-written messages masked; the same object when there is nothing to mask. */
export function scrubEvent(e: MonitorEvent, values: readonly string[]): MonitorEvent {
  if (values.length === 0) return e;
  if (e.type === 'extensionStatus') {
    return { ...e, status: { ...e.status, message: maskValues(e.status.message, values),
      substatus: e.status.substatus.map((s) => ({ ...s, message: maskValues(s.message, values) })) } };
  }
  if (e.type === 'heartbeat' && e.heartbeat) return { ...e, heartbeat: { ...e.heartbeat, message: maskValues(e.heartbeat.message, values) } };
  return e;
}

const MAX_SETTINGS_BYTES = 16 * 1024 * 1024;

/** The protected values in a handler's `config/*.settings` files; none when unreadable. */
export async function protectedValuesInFolder(configFolder: string): Promise<string[]> {
  const names = await readdir(configFolder).catch(() => [] as string[]);
  const settings: unknown[] = [];
  for (const name of names.filter((n) => n.endsWith('.settings'))) {
    // The folder is the handler's: no link followed, no FIFO waited on, no huge file read.
    const fh = await open(join(configFolder, name), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => null);
    if (!fh) continue;
    try {
      const st = await fh.stat();
      if (!st.isFile() || st.size > MAX_SETTINGS_BYTES) continue;
      const doc = JSON.parse(await fh.readFile('utf8')) as { runtimeSettings?: Array<{ handlerSettings?: { protectedSettings?: unknown } }> };
      for (const r of doc.runtimeSettings ?? []) settings.push(r?.handlerSettings?.protectedSettings);
    } catch { /* not a settings file the supervisor wrote: nothing to mask from it */ } finally {
      await fh.close();
    }
  }
  return protectedValues(settings);
}
