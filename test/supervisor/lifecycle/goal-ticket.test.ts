import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GoalTicket, goalName } from '../../../src/supervisor/lifecycle/goal-ticket.js';

describe('goal ticket', () => {
  test('a queued ticket is dropped once, answering with the goal that took its place; it cannot start after', async () => {
    const t = new GoalTicket();
    assert.equal(t.queued, true);
    assert.equal(t.drop({ etag: 'three', source: 'goal.json' }), true);
    assert.equal(t.drop({ etag: 'four', source: 'goal.json' }), false, 'the first drop wins');
    assert.deepEqual(await t.dropped, { etag: 'three', source: 'goal.json' });
    assert.deepEqual(t.droppedBy, { etag: 'three', source: 'goal.json' });
    assert.equal(t.start(), false);
    assert.equal(t.queued, false);
  });

  test('a started ticket is never dropped: the running goal goes on', async () => {
    const t = new GoalTicket();
    assert.equal(t.start(), true);
    assert.equal(t.start(), false, 'started once');
    assert.equal(t.drop({ etag: 'two', source: 'goal.json' }), false);
    assert.equal(t.droppedBy, null);
    const raced = await Promise.race([t.dropped.then(() => 'dropped'), Promise.resolve('not dropped')]);
    assert.equal(raced, 'not dropped');
  });

  test('a stop withdraws with null; names say which goal', async () => {
    const t = new GoalTicket();
    assert.equal(t.drop(null), true);
    assert.equal(await t.dropped, null);
    assert.equal(goalName({ etag: 'x1', source: '/g.json' }), 'goal state etag x1');
    assert.equal(goalName({ etag: null, source: '/g.json' }), 'goal state /g.json');
  });
});
