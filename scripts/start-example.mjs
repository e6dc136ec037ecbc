#!/usr/bin/env node
// `npm start`: packs the example handlers, writes a goal state pointing at the packages, and
// applies it with a lib dir inside the project (no root, no setup). Extra arguments go to
// the supervisor, e.g. `npm start -- --concurrency 4`.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const libDir = join(root, '.example-lib');
const pkgDir = join(libDir, 'packages');
const cli = join(root, 'bin', 'supervisor.js');
mkdirSync(pkgDir, { recursive: true });

function supervisor(args, opts = {}) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', stdio: opts.capture ? 'pipe' : 'inherit' });
  if (r.status !== 0 && opts.capture) process.stderr.write(r.stderr);
  return r;
}

const template = JSON.parse(readFileSync(join(root, 'examples', 'goal-state.template.json'), 'utf8'));
for (const handler of template.handlers) {
  handler.packages = handler.packages.map((p) => {
    const out = join(pkgDir, `${handler.name}-${p.version}.zip`);
    const r = supervisor(['pack', join(root, 'examples', p.folder), '-o', out], { capture: true });
    if (r.status !== 0) process.exit(r.status ?? 1);
    const sha256 = r.stdout.trim().split(/\s+/)[0];
    return { version: p.version, sha256, uris: [`file://${out}`] };
  });
}
const goalFile = join(libDir, 'goal-state.json');
writeFileSync(goalFile, `${JSON.stringify(template, null, 2)}\n`);
console.log(`example goal state: ${goalFile}\nlib dir: ${libDir}\n`);
const r = supervisor(['apply', '--goal-state', goalFile, '--lib-dir', libDir, ...process.argv.slice(2)]);
console.log(`\nlook around: ls ${libDir}   (state/, handler dirs, log/)`);
process.exit(r.status ?? 1);
