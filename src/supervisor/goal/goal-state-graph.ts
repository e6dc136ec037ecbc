/**
 * The `dependsOn` graph between handlers: cycles (for validation), the order the plan applies
 * handlers in, and who fails when a dependency fails. Pure functions; document order breaks ties.
 */
import { SupervisorError } from '../../core/errors.js';

/** The part of a handler the graph needs. */
export interface GraphNode { readonly name: string; readonly dependsOn: readonly string[] }

function byName<T extends GraphNode>(nodes: readonly T[]): Map<string, T> {
  const map = new Map<string, T>();
  for (const node of nodes) if (!map.has(node.name)) map.set(node.name, node);
  return map;
}

/**
 * The cycles a depth-first walk in document order meets (at least one in every group of handlers
 * that wait on each other), each closed on its first name: `["A", "B", "A"]`. Unknown names are ignored.
 */
export function findCycles(nodes: readonly GraphNode[]): string[][] {
  const map = byName(nodes);
  const state = new Map<string, 'active' | 'done'>();
  const stack: string[] = [];
  const seen = new Set<string>();
  const cycles: string[][] = [];

  const visit = (name: string): void => {
    state.set(name, 'active');
    stack.push(name);
    for (const dep of map.get(name)?.dependsOn ?? []) {
      if (!map.has(dep)) continue;
      const s = state.get(dep);
      if (s === 'active') {
        const cycle = stack.slice(stack.lastIndexOf(dep));
        const start = cycle.indexOf([...cycle].sort()[0] ?? dep);
        const key = [...cycle.slice(start), ...cycle.slice(0, start)].join('\0');
        if (!seen.has(key)) { seen.add(key); cycles.push([...cycle, dep]); }
      } else if (s === undefined) visit(dep);
    }
    stack.pop();
    state.set(name, 'done');
  };
  for (const name of map.keys()) if (!state.has(name)) visit(name);
  return cycles;
}

/** Renders a cycle the way errors name it: "A -> B -> A". */
export function formatCycle(cycle: readonly string[]): string {
  return cycle.join(' -> ');
}

/**
 * Topological layers: layer 0 depends on nothing, each later layer only on earlier layers; within a
 * layer, document order. A dependency on a name not in `handlers` counts as met (the plan may pass a
 * subset). Throws E_DEPENDENCY_CYCLE, naming the cycle, when there is one.
 */
export function dependencyOrder<T extends GraphNode>(handlers: readonly T[]): T[][] {
  const known = new Set(handlers.map((h) => h.name));
  const placed = new Set<string>();
  const layers: T[][] = [];
  let remaining = [...handlers];
  while (remaining.length > 0) {
    const layer = remaining.filter((h) => h.dependsOn.every((d) => placed.has(d) || !known.has(d)));
    if (layer.length === 0) {
      const cycle = findCycles(remaining)[0] ?? remaining.map((h) => h.name);
      throw new SupervisorError('E_DEPENDENCY_CYCLE', `dependency cycle: ${formatCycle(cycle)}`, { cycle });
    }
    for (const h of layer) placed.add(h.name);
    remaining = remaining.filter((h) => !placed.has(h.name));
    layers.push(layer);
  }
  return layers;
}

/** Names of every handler that depends on `name`, directly or transitively, in document order. */
export function dependentsOf(name: string, handlers: readonly GraphNode[]): string[] {
  const affected = new Set<string>([name]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const h of handlers) {
      if (!affected.has(h.name) && h.dependsOn.some((d) => affected.has(d))) { affected.add(h.name); grew = true; }
    }
  }
  return handlers.map((h) => h.name).filter((n, i, all) => n !== name && affected.has(n) && all.indexOf(n) === i);
}
