import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Workspace, handlerEntry, maxOverlap } from '../../helpers/handlers.js';
import { applyDoc, killLeftovers } from '../../helpers/fleet.js';
import { closePackagePool } from '../../../src/supervisor/packages/pool.js';

after(() => closePackagePool());

test('50 handlers: enables run in parallel up to --concurrency, installs never overlap', async () => {
  const ws = await Workspace.create();
  try {
    const entries = [];
    for (let i = 0; i < 50; i++) {
      const name = `Par${String(i).padStart(2, '0')}`;
      const pkg = await ws.package({ name, version: '1.0', behavior: { enable: 'sleep 0.15', install: 'sleep 0.01' } });
      entries.push(handlerEntry(name, [pkg]));
    }
    const s = await applyDoc(ws, { handlers: entries }, { concurrency: 4 });
    assert.equal(s.ok, true, s.results.filter((r) => !r.reached).map((r) => r.status.message).join('\n'));
    const lines = await ws.log();
    assert.equal(lines.filter((l) => l.op === 'enable' && l.phase === 'end').length, 50);
    const enables = maxOverlap(lines, ['enable']);
    assert.ok(enables <= 4, `at most 4 enables at once, saw ${enables}`);
    assert.ok(enables >= 2, `enables ran in parallel, saw ${enables}`);
    assert.equal(maxOverlap(lines, ['install']), 1, 'installs run one at a time by default');
  } finally {
    await killLeftovers(ws);
    await ws.dispose();
  }
});
