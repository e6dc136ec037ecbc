/** `npm start` keeps an edited example goal state instead of writing the template over it (issue 18). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeExampleGoal } from '../../scripts/example-goal.mjs';

test('the goal state is written from the template until the operator edits it, then kept', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'exts-example-goal-'));
  try {
    const goal = join(dir, 'goal-state.json');
    assert.equal(writeExampleGoal(goal, '{"etag":"example-1"}\n'), 'written');
    assert.equal(writeExampleGoal(goal, '{"etag":"example-1"}\n'), 'unchanged');
    // A new template (an update of the project) replaces an unedited file.
    assert.equal(writeExampleGoal(goal, '{"etag":"example-2"}\n'), 'written');
    assert.equal(await readFile(goal, 'utf8'), '{"etag":"example-2"}\n');
    await writeFile(goal, '{"etag":"mine"}\n');
    assert.equal(writeExampleGoal(goal, '{"etag":"example-2"}\n'), 'kept');
    assert.equal(writeExampleGoal(goal, '{"etag":"example-3"}\n'), 'kept');
    assert.equal(await readFile(goal, 'utf8'), '{"etag":"mine"}\n');
    // Deleted: the template's again.
    await rm(goal);
    assert.equal(writeExampleGoal(goal, '{"etag":"example-3"}\n'), 'written');
    assert.equal(await readFile(goal, 'utf8'), '{"etag":"example-3"}\n');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
