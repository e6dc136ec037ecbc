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
 * The walk keeps its own stack, so a chain of any length costs no call-stack depth.
 */
export function findCycles(nodes: readonly GraphNode[]): string[][] {
  const map = byName(nodes);
  const state = new Map<string, 'active' | 'done'>();
  const seen = new Set<string>();
  const cycles: string[][] = [];
  // The active path: names, and for each how many of its dependencies were already looked at.
  const stack: string[] = [];
  const next: number[] = [];

  const enter = (name: string): void => { state.set(name, 'active'); stack.push(name); next.push(0); };
  for (const root of map.keys()) {
    if (state.has(root)) continue;
    enter(root);
    while (stack.length > 0) {
      const top = stack.length - 1;
      const deps = map.get(stack[top]!)?.dependsOn ?? [];
      if (next[top]! === deps.length) {
        state.set(stack.pop()!, 'done');
        next.pop();
        continue;
      }
      const dep = deps[next[top]!]!;
      next[top]! += 1;
      if (!map.has(dep)) continue;
      const s = state.get(dep);
      if (s === 'active') {
        const cycle = stack.slice(stack.lastIndexOf(dep));
        const start = cycle.indexOf([...cycle].sort()[0] ?? dep);
        const key = [...cycle.slice(start), ...cycle.slice(0, start)].join('\0');
        if (!seen.has(key)) { seen.add(key); cycles.push([...cycle, dep]); }
      } else if (s === undefined) enter(dep);
    }
  }
  return cycles;
}

/** Renders a cycle the way errors name it: "A -> B -> A". */
export function formatCycle(cycle: readonly string[]): string {
  return cycle.join(' -> ');
}

/**
 * Topological layers: layer 0 depends on nothing, each later layer only on earlier layers; within a
 * layer, document order. A dependency on a name not in `handlers` counts as met (the plan may pass a
 * subset). Throws E_DEPENDENCY_CYCLE, naming the cycle, when there is one. Linear in handlers plus
 * edges (each handler waits on a count of unmet dependencies), so a long chain costs no more per step.
 */
export function dependencyOrder<T extends GraphNode>(handlers: readonly T[]): T[][] {
  const known = new Set(handlers.map((h) => h.name));
  const waiting = handlers.map((h) => new Set(h.dependsOn.filter((d) => known.has(d))).size);
  const waiters = new Map<string, number[]>();
  handlers.forEach((h, i) => {
    for (const d of new Set(h.dependsOn)) if (known.has(d)) listAt(waiters, d).push(i);
  });
  const placed = new Set<string>();
  const layers: T[][] = [];
  let ready = handlers.flatMap((_, i) => (waiting[i] === 0 ? [i] : []));
  let count = 0;
  while (ready.length > 0) {
    layers.push(ready.map((i) => handlers[i]!));
    count += ready.length;
    const nextReady: number[] = [];
    for (const i of ready) {
      const name = handlers[i]!.name;
      if (placed.has(name)) continue;
      placed.add(name);
      for (const w of waiters.get(name) ?? []) if (--waiting[w]! === 0) nextReady.push(w);
    }
    ready = nextReady.sort((x, y) => x - y);
  }
  if (count < handlers.length) {
    const remaining = handlers.filter((_, i) => waiting[i]! > 0);
    const cycle = findCycles(remaining)[0] ?? remaining.map((h) => h.name);
    throw new SupervisorError('E_DEPENDENCY_CYCLE', `dependency cycle: ${formatCycle(cycle)}`, { cycle });
  }
  return layers;
}

/** A node with the goal state it is being taken to: teardown (disabled, uninstall) runs dependents first. */
export interface OrderNode extends GraphNode { readonly state: string }

const tearsDown = (state: string): boolean => state === 'disabled' || state === 'uninstall';

/**
 * Whom each handler waits for in an apply: its dependencies, except that between two handlers both
 * being disabled or uninstalled the edge turns round, so a dependent is torn down before what it
 * depends on (the reverse of the order enable runs in). Should turning edges round close a cycle
 * (a handler kept enabled between two torn down), the document's dependsOn order is kept.
 */
export function applyOrder<T extends OrderNode>(handlers: readonly T[]): { layers: T[][]; waitsFor: ReadonlyMap<string, readonly string[]> } {
  const state = new Map(handlers.map((h) => [h.name, h.state]));
  const waits = new Map<string, string[]>(handlers.map((h) => [h.name, []]));
  for (const h of handlers) {
    for (const d of new Set(h.dependsOn)) {
      if (!state.has(d)) continue;
      if (tearsDown(h.state) && tearsDown(state.get(d)!)) listAt(waits, d).push(h.name);
      else listAt(waits, h.name).push(d);
    }
  }
  const turned = handlers.map((h) => ({ node: h, name: h.name, dependsOn: waits.get(h.name) ?? [] }));
  try {
    return { layers: dependencyOrder(turned).map((layer) => layer.map((t) => t.node)), waitsFor: waits };
  } catch {
    return { layers: dependencyOrder(handlers), waitsFor: new Map(handlers.map((h) => [h.name, h.dependsOn])) };
  }
}

/** Names of every handler that depends on `name`, directly or transitively, in document order. */
export function dependentsOf(name: string, handlers: readonly GraphNode[]): string[] {
  const dependents = new Map<string, string[]>();
  for (const h of handlers) for (const d of h.dependsOn) listAt(dependents, d).push(h.name);
  const affected = new Set<string>([name]);
  const queue = [name];
  for (let k = 0; k < queue.length; k += 1) {
    for (const n of dependents.get(queue[k]!) ?? []) if (!affected.has(n)) { affected.add(n); queue.push(n); }
  }
  const listed = new Set<string>();
  const out: string[] = [];
  for (const h of handlers) {
    if (h.name !== name && affected.has(h.name) && !listed.has(h.name)) { listed.add(h.name); out.push(h.name); }
  }
  return out;
}

function listAt<T>(map: Map<string, T[]>, key: string): T[] {
  let list = map.get(key);
  if (list === undefined) { list = []; map.set(key, list); }
  return list;
}
