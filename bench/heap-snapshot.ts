/**
 * Reads a V8 .heapsnapshot (written by a process started with --heapsnapshot-signal) into the
 * constructors holding the most memory by self size: what grows with the number of handlers.
 */
import { readFile } from 'node:fs/promises';

interface Snapshot {
  readonly snapshot: { readonly meta: { readonly node_fields: readonly string[]; readonly node_types: readonly [readonly string[], ...unknown[]] }; readonly node_count: number };
  readonly nodes: readonly number[];
  readonly strings: readonly string[];
}

export interface HeapSummary {
  readonly file: string;
  readonly totalBytes: number;
  readonly nodes: number;
  readonly top: readonly { readonly what: string; readonly count: number; readonly selfBytes: number; readonly pct: number }[];
}

/** Self size per constructor (objects) or per node type (strings, code, arrays...), largest first. */
export async function summarizeHeapSnapshot(file: string, limit = 15): Promise<HeapSummary> {
  const snap = JSON.parse(await readFile(file, 'utf8')) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const iType = fields.indexOf('type');
  const iName = fields.indexOf('name');
  const iSize = fields.indexOf('self_size');
  const groups = new Map<string, { count: number; bytes: number }>();
  let total = 0;
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + iType]!] ?? '?';
    const size = snap.nodes[i + iSize]!;
    const name = snap.strings[snap.nodes[i + iName]!] || '(anonymous)';
    const key = type === 'object' ? name : type === 'closure' ? `closure ${name}` : `(${type})`;
    const g = groups.get(key) ?? { count: 0, bytes: 0 };
    g.count += 1;
    g.bytes += size;
    groups.set(key, g);
    total += size;
  }
  const top = [...groups.entries()].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, limit)
    .map(([what, g]) => ({ what, count: g.count, selfBytes: g.bytes, pct: Math.round((g.bytes / total) * 1000) / 10 }));
  return { file, totalBytes: total, nodes: snap.nodes.length / width, top };
}
