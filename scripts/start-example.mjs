#!/usr/bin/env node
// `npm start`: packs the example handlers, writes a goal state pointing at the packages, and
// runs the daemon on it in the foreground with a lib dir inside the project (no root, no
// setup). Ctrl-C stops it gracefully. Extra arguments go to `supervisor run`, e.g.
// `npm start -- --concurrency 4`. The status page is served on 127.0.0.1:8477, or on a free port
// when 8477 is taken (`npm start -- --http-listen 127.0.0.1:9000` chooses).
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { writeExampleGoal } from './example-goal.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const libDir = join(root, '.example-lib');
// Explicit, so that as root too the example keeps its logs inside the project.
const logDir = join(libDir, 'log');
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
// An edited goal state is kept (the packages are packed again all the same: same files, same sha256).
if (writeExampleGoal(goalFile, `${JSON.stringify(template, null, 2)}\n`) === 'kept') {
  console.log(`keeping your edited ${goalFile} (delete it to get the template's again)`);
}
const DEFAULT_PORT = 8477;
const extra = process.argv.slice(2);

/** Resolves with the port bound on 127.0.0.1 (0: any free one), or null when it is taken. */
function probe(port) {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(null));
    srv.listen(port, '127.0.0.1', () => { const got = srv.address().port; srv.close(() => resolve(got)); });
  });
}

let httpNote = '';
const portChosenHere = !extra.some((a) => /^--(http|metrics)-listen(=|$)/.test(a));
if (portChosenHere) {
  let port = await probe(DEFAULT_PORT);
  if (port === null) {
    port = await probe(0);
    httpNote = `(port ${DEFAULT_PORT} is in use, by another npm start perhaps: took a free one; choose with npm start -- --http-listen 127.0.0.1:PORT)\n`;
  }
  extra.push('--http-listen', `127.0.0.1:${port}`);
  httpNote = `status page:        http://127.0.0.1:${port}/   (also /api/ps, /events, /metrics, /healthz, /readyz)\n${httpNote}`;
}
const rel = (p) => p.startsWith(`${root}/`) ? p.slice(root.length + 1) : p;
console.log(`example goal state: ${rel(goalFile)} (edit it and change its "etag": the daemon re-applies it)
lib dir:            ${rel(libDir)}   logs: ${rel(logDir)}
${httpNote}
In a second terminal, from ${root}:
  node bin/supervisor.js ps --lib-dir ${rel(libDir)}
  node bin/supervisor.js status Example.Service --lib-dir ${rel(libDir)}
  node bin/supervisor.js logs Example.Hello --lib-dir ${rel(libDir)}
Ctrl-C (or node bin/supervisor.js stop --lib-dir ${rel(libDir)}) stops the daemon; the handlers keep
running and the next npm start adopts them.
`);
// The daemon ignores our SIGINT handling: it gets Ctrl-C itself from the terminal and stops gracefully.
process.on('SIGINT', () => {});

/** Runs the daemon in the foreground, its stderr passed through and kept (the start of it) to read why it stopped. */
function runDaemon(args) {
  return new Promise((done) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['inherit', 'inherit', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => { process.stderr.write(d); if (err.length < 65536) err += d; });
    child.on('exit', (code) => done({ code: code ?? 1, err }));
  });
}

const runArgs = () => ['run', '--goal-state', goalFile, '--lib-dir', libDir, '--log-dir', logDir, ...extra];
let r = await runDaemon(runArgs());
// Another npm start may have taken the port between the probe and the daemon's listen: a free one then.
for (let attempt = 0; portChosenHere && r.code === 2 && /EADDRINUSE/.test(r.err) && attempt < 3; attempt += 1) {
  const port = await probe(0);
  extra.splice(extra.indexOf('--http-listen'), 2, '--http-listen', `127.0.0.1:${port}`);
  console.log(`(the status page's port was taken as the daemon started: now http://127.0.0.1:${port}/)`);
  r = await runDaemon(runArgs());
}
process.exit(r.code);
