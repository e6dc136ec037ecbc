#!/usr/bin/env node
// Runs every test/**/*.test.ts with node:test through tsx. Node 20's --test does not
// expand globs or pick up .ts files itself, so the list is built here.
import { readFileSync, readdirSync, rmdirSync, statSync } from 'node:fs';

const runStartedAt = Date.now();
import { join } from 'node:path';
import { spawn } from 'node:child_process';

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (name === 'fixtures' || name === 'node_modules') continue;
    if (statSync(p).isDirectory()) out.push(...collect(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
let files = collect('test');
if (filters.length) files = files.filter((f) => filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error('run-tests: no test files matched');
  process.exit(1);
}
const args = ['--import', 'tsx', '--test', '--test-reporter=spec',
  `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 2}`, ...files];
const child = spawn(process.execPath, args, { stdio: 'inherit' });
/**
 * Tests without --cgroup-root use the supervisor's default subtree, `<cgroup mount>/ext-supervisor`,
 * as a daemon outside systemd does. Each test removes its own `<libId>` groups; the shared parent
 * goes once the run is over, if empty (rmdir refuses a group with members or children, so a real
 * supervisor's subtree on this host is never touched).
 */
function removeEmptyDefaultRoots() {
  let mounts = [];
  try {
    mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' '))
      .filter((f) => f[2] === 'cgroup' || f[2] === 'cgroup2').map((f) => f[1]);
  } catch { /* no /proc: nothing to clean */ }
  for (const m of mounts) {
    // Lib groups (12 hex digits) made during this run and left empty: a unit test that drives
    // commands below the daemon has no stop to remove its lib dir's group. Only childless groups
    // with no member, made since the run began (a cgroup dir's mtime is its creation), so a
    // supervisor running on this host keeps its own.
    const sub = join(m, 'ext-supervisor');
    let libs = [];
    try { libs = readdirSync(sub, { withFileTypes: true }).filter((d) => d.isDirectory() && /^[0-9a-f]{12}$/.test(d.name)); } catch { /* none */ }
    for (const d of libs) {
      const g = join(sub, d.name);
      try {
        if (statSync(g).mtimeMs < runStartedAt - 1000) continue;
        if (readdirSync(g, { withFileTypes: true }).some((e) => e.isDirectory())) continue;
        if (readFileSync(join(g, 'cgroup.procs'), 'utf8').trim() !== '') continue;
        rmdirSync(g);
      } catch { /* in use, or gone */ }
    }
    try { rmdirSync(sub); } catch { /* absent, or in use */ }
  }
}
child.on('exit', (code, signal) => {
  removeEmptyDefaultRoots();
  process.exit(code ?? (signal ? 1 : 0));
});
