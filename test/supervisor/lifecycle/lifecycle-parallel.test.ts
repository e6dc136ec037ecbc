import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Workspace, handlerEntry, maxOverlap } from '../../helpers/handlers.js';
import { killLeftovers } from '../../helpers/fleet.js';
import { Fleet } from '../../../src/supervisor/lifecycle/fleet.js';
import { parseGoalState } from '../../../src/supervisor/goal/goal-state.js';
import { closePackagePool } from '../../../src/supervisor/packages/pool.js';

after(() => closePackagePool());

/**
 * An enable that checks in at a barrier and waits (bounded, ~30 s) until a second enable has
 * checked in: two enables then run at once whenever the supervisor lets them, however slow the
 * machine, and never when it does not (the first would wait out the bound alone).
 */
const barrierEnable = (barrier: string): string => `
  : > ${JSON.stringify(barrier)}/$$
  waited=0
  while :; do
    set -- ${JSON.stringify(barrier)}/*
    [ $# -ge 2 ] && break
    waited=$((waited + 1)); [ $waited -ge 3000 ] && break
    sleep 0.01
  done`;

test('50 handlers: enables run in parallel up to --concurrency, installs never overlap', async () => {
  const ws = await Workspace.create();
  try {
    const barrier = join(ws.root, 'enable-barrier');
    await mkdir(barrier);
    const entries = [];
    for (let i = 0; i < 50; i++) {
      const name = `Par${String(i).padStart(2, '0')}`;
      const pkg = await ws.package({ name, version: '1.0', behavior: { enable: barrierEnable(barrier), install: 'sleep 0.01' } });
      entries.push(handlerEntry(name, [pkg]));
    }
    const fleet = new Fleet({ dirs: ws.dirs, graceMs: 300, concurrency: 4 });
    let s;
    try {
      s = await fleet.reconcile(parseGoalState(JSON.stringify({ handlers: entries }), `${ws.root}/goal.json`));
    } finally {
      await fleet.stop();
    }
    assert.equal(s.ok, true, s.results.filter((r) => !r.reached).map((r) => r.status.message).join('\n'));
    const lines = await ws.log();
    assert.equal(lines.filter((l) => l.op === 'enable' && l.phase === 'end').length, 50);
    // Counted by the gates themselves (their peak holders), not read off timestamps.
    const enables = fleet.gates.enable.peak;
    assert.ok(enables <= 4, `at most 4 enables at once, saw ${enables}`);
    assert.ok(enables >= 2, `enables ran in parallel, saw ${enables}`);
    assert.ok(maxOverlap(lines, ['enable']) <= 4, 'nor does the handlers\' own log show more than 4');
    assert.equal(fleet.gates.install.peak, 1, 'installs run one at a time by default');
    assert.equal(maxOverlap(lines, ['install']), 1, 'as the handlers\' own log shows');
  } finally {
    await killLeftovers(ws);
    await ws.dispose();
  }
});
