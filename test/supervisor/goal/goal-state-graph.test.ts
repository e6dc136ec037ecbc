import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { SupervisorError } from '../../../src/core/errors.js';
import {
  applyOrder, dependencyOrder, dependentsOf, findCycles, formatCycle, type GraphNode,
} from '../../../src/supervisor/goal/goal-state-graph.js';
import { parseGoalState } from '../../../src/supervisor/goal/goal-state.js';

const node = (name: string, ...dependsOn: string[]): GraphNode => ({ name, dependsOn });
const names = (layers: GraphNode[][]): string[][] => layers.map((l) => l.map((n) => n.name));

describe('dependencyOrder', () => {
  test('independent handlers form one layer in document order', () => {
    assert.deepEqual(names(dependencyOrder([node('C'), node('A'), node('B')])), [['C', 'A', 'B']]);
  });

  test('a chain gives one layer per step', () => {
    assert.deepEqual(names(dependencyOrder([node('App', 'Mid'), node('Mid', 'Base'), node('Base')])), [['Base'], ['Mid'], ['App']]);
  });

  test('a diamond: dependents wait for every dependency, layers stay in document order', () => {
    const handlers = [node('Top', 'Left', 'Right'), node('Right', 'Base'), node('Solo'), node('Left', 'Base'), node('Base')];
    assert.deepEqual(names(dependencyOrder(handlers)), [['Solo', 'Base'], ['Right', 'Left'], ['Top']]);
  });

  test('returns the given objects, not copies', () => {
    const a = node('A');
    const [[first] = []] = dependencyOrder([a]);
    assert.equal(first, a);
  });

  test('a dependency outside the list counts as met (the plan may order a subset)', () => {
    assert.deepEqual(names(dependencyOrder([node('B', 'NotHere'), node('C', 'B')])), [['B'], ['C']]);
  });

  test('an empty list has no layers', () => {
    assert.deepEqual(dependencyOrder([]), []);
  });

  test('a cycle throws E_DEPENDENCY_CYCLE naming it', () => {
    assert.throws(() => dependencyOrder([node('Ok'), node('A', 'B'), node('B', 'C'), node('C', 'A')]), (err: unknown) => {
      assert.ok(err instanceof SupervisorError);
      assert.equal(err.code, 'E_DEPENDENCY_CYCLE');
      assert.equal(err.message, 'dependency cycle: A -> B -> C -> A');
      return true;
    });
    assert.throws(() => dependencyOrder([node('Self', 'Self')]), { code: 'E_DEPENDENCY_CYCLE', message: 'dependency cycle: Self -> Self' });
  });

  test('works on a validated goal state (the three-handlers fixture shape)', () => {
    const goal = parseGoalState(JSON.stringify({ handlers: [
      { name: 'Monitor', version: '1', dependsOn: ['Base'] }, { name: 'Base', version: '1' }, { name: 'Legacy', version: '1', dependsOn: ['Base'] },
    ] }), 'mem.json');
    assert.deepEqual(dependencyOrder(goal.handlers).map((l) => l.map((h) => h.name)), [['Base'], ['Monitor', 'Legacy']]);
  });
});

describe('dependentsOf', () => {
  const handlers = [node('App', 'Mid'), node('Mid', 'Base'), node('Other'), node('Base'), node('Tool', 'Base', 'Other'), node('Leaf', 'App')];

  test('transitive dependents, in document order, without the handler itself', () => {
    assert.deepEqual(dependentsOf('Base', handlers), ['App', 'Mid', 'Tool', 'Leaf']);
    assert.deepEqual(dependentsOf('Mid', handlers), ['App', 'Leaf']);
    assert.deepEqual(dependentsOf('Other', handlers), ['Tool']);
  });

  test('a handler nobody depends on, or an unknown name, has none', () => {
    assert.deepEqual(dependentsOf('Leaf', handlers), []);
    assert.deepEqual(dependentsOf('Nope', handlers), []);
  });

  test('terminates on a cycle', () => {
    assert.deepEqual(dependentsOf('A', [node('A', 'B'), node('B', 'A'), node('C', 'B')]), ['B', 'C']);
  });
});

describe('findCycles', () => {
  const table: Array<[string, GraphNode[], string[]]> = [
    ['no cycle', [node('A', 'B'), node('B')], []],
    ['self loop', [node('A', 'A')], ['A -> A']],
    ['two nodes', [node('A', 'B'), node('B', 'A')], ['A -> B -> A']],
    ['three nodes, found from the first in document order', [node('B', 'C'), node('C', 'A'), node('A', 'B')], ['B -> C -> A -> B']],
    ['two separate cycles', [node('A', 'B'), node('B', 'A'), node('X', 'Y'), node('Y', 'X')], ['A -> B -> A', 'X -> Y -> X']],
    ['unknown names are ignored', [node('A', 'Ghost')], []],
  ];
  for (const [what, nodes, want] of table) {
    test(what, () => {
      assert.deepEqual(findCycles(nodes).map(formatCycle), want);
    });
  }
});

describe('long chains: the walks keep their own stack and stay linear', () => {
  const N = 100_000;
  const chain = (closed: boolean): GraphNode[] =>
    Array.from({ length: N }, (_, i) => node(`h${i}`, ...(i < N - 1 ? [`h${i + 1}`] : closed ? ['h0'] : [])));

  test('findCycles on a chain of 100,000: none; closed into a loop: the one cycle, whole', () => {
    assert.deepEqual(findCycles(chain(false)), []);
    const [cycle, ...rest] = findCycles(chain(true));
    assert.equal(cycle?.length, N + 1);
    assert.deepEqual([cycle?.[0], cycle?.[1], cycle?.[N - 1], cycle?.[N]], ['h0', 'h1', `h${N - 1}`, 'h0']);
    assert.equal(rest.length, 0);
  });

  test('dependencyOrder on a chain of 100,000: one handler per layer, last in the document first', () => {
    const layers = dependencyOrder(chain(false));
    assert.equal(layers.length, N);
    assert.deepEqual([layers[0]?.[0]?.name, layers[N - 1]?.[0]?.name], [`h${N - 1}`, 'h0']);
    assert.ok(layers.every((l) => l.length === 1));
    assert.throws(() => dependencyOrder(chain(true)), { code: 'E_DEPENDENCY_CYCLE' });
  });

  test('dependentsOf the end of a chain of 100,000: every other handler, in document order', () => {
    const all = dependentsOf(`h${N - 1}`, chain(false));
    assert.equal(all.length, N - 1);
    assert.deepEqual([all[0], all[N - 2]], ['h0', `h${N - 2}`]);
  });
});

describe('applyOrder: teardown runs dependents first', () => {
  const at = (state: string, name: string, ...dependsOn: string[]) => ({ name, dependsOn, state });
  const waits = (o: ReturnType<typeof applyOrder>) => Object.fromEntries([...o.waitsFor].map(([k, v]) => [k, [...v]]));
  test('enabled: dependencies first', () => {
    const o = applyOrder([at('enabled', 'Hello'), at('enabled', 'Service', 'Hello')]);
    assert.deepEqual(names(o.layers), [['Hello'], ['Service']]);
    assert.deepEqual(waits(o), { Hello: [], Service: ['Hello'] });
  });
  test('uninstall (and disable) of both: the dependent first, the dependency waits for it', () => {
    for (const state of ['uninstall', 'disabled']) {
      const o = applyOrder([at(state, 'Hello'), at(state, 'Service', 'Hello')]);
      assert.deepEqual(names(o.layers), [['Service'], ['Hello']], state);
      assert.deepEqual(waits(o), { Hello: ['Service'], Service: [] }, state);
    }
  });
  test('a chain torn down runs from the top; a handler kept enabled keeps its order', () => {
    const o = applyOrder([at('uninstall', 'Base'), at('uninstall', 'Mid', 'Base'), at('uninstall', 'App', 'Mid'), at('enabled', 'Other', 'Base')]);
    assert.deepEqual(names(o.layers), [['App'], ['Mid'], ['Base'], ['Other']]);
    assert.deepEqual(waits(o).Other, ['Base'], 'an enabled dependent still waits for its dependency');
  });
  test('turning edges round that would close a cycle keeps the document\'s order', () => {
    const o = applyOrder([at('enabled', 'E', 'T1'), at('uninstall', 'T1'), at('uninstall', 'T2', 'T1', 'E')]);
    assert.deepEqual(names(o.layers), [['T1'], ['E'], ['T2']]);
  });
});
