/**
 * The layering check that `npm test` runs (`npm run layers`, dependency-cruiser with
 * .dependency-cruiser.cjs): clean on the real tree, and a planted upward import or cycle
 * fails it with a message naming both files.
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
const DEPCRUISE = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');

function cruise(cwd: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [DEPCRUISE, 'src', '--config', '.dependency-cruiser.cjs', '--output-type', 'err'],
    { cwd, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

let tmp: string | null = null;
afterEach(() => { if (tmp) rmSync(tmp, { recursive: true, force: true }); tmp = null; });

/** A tree with the project's config and tsconfig, and the given files under src/. */
function tree(files: Record<string, string>): string {
  tmp = mkdtempSync(join(tmpdir(), 'layers-'));
  cpSync(join(ROOT, '.dependency-cruiser.cjs'), join(tmp, '.dependency-cruiser.cjs'));
  writeFileSync(join(tmp, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext' }, include: ['src'] }));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(tmp, 'src', path, '..'), { recursive: true });
    writeFileSync(join(tmp, 'src', path), text);
  }
  return tmp;
}

describe('layers', () => {
  test('the real tree has no upward import and no cycle', () => {
    const r = cruise(ROOT);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /no dependency violations found/);
  });

  test('an upward import fails, naming the rule and both files', () => {
    const r = cruise(tree({
      'core/clock.ts': "import { Fleet } from '../supervisor/lifecycle/fleet.js';\nexport const clock = Fleet;\n",
      'supervisor/lifecycle/fleet.ts': 'export const Fleet = 1;\n',
    }));
    assert.notEqual(r.status, 0);
    assert.match(r.out, /core-imports-down-only: src\/core\/clock\.ts → src\/supervisor\/lifecycle\/fleet\.ts/);
  });

  test('the composition root may not import ipc, even though supervisor sits below cli', () => {
    const r = cruise(tree({
      'supervisor/daemon/daemon.ts': "import { serve } from '../../ipc/server.js';\nexport const d = serve;\n",
      'ipc/server.ts': 'export const serve = 1;\n',
    }));
    assert.notEqual(r.status, 0);
    assert.match(r.out, /daemon-never-imports-ipc-or-cli: src\/supervisor\/daemon\/daemon\.ts → src\/ipc\/server\.ts/);
  });

  test('a cycle fails, naming every file on it, type-only imports included', () => {
    const r = cruise(tree({
      'actors/actor.ts': "import type { Cell } from './cell.js';\nexport type Actor = { cell: Cell };\n",
      'actors/cell.ts': "import type { Actor } from './actor.js';\nexport type Cell = { actor: Actor };\n",
    }));
    assert.notEqual(r.status, 0);
    assert.match(r.out, /no-cycle: src\/actors\/(actor|cell)\.ts →\s+src\/actors\/(cell|actor)\.ts/);
  });
});
