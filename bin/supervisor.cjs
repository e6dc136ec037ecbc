#!/usr/bin/env node
'use strict';
// The launcher `npm install` and deploy/install.sh link as `supervisor`. CommonJS on purpose: a
// CommonJS entry starts without the ES module loader, and `supervisor ps --json` against a running
// daemon answers from bin/fast-ps.cjs alone. Every other command (and that one whenever the fast
// path declines) runs the compiled CLI in dist/ (built by `npm run build`, run by npm's prepare).
// libuv's thread pool keeps its default size: see docs/decisions.md ("Forking from a spawner
// process") for the measurements of a larger one.
const { fastPs } = require('./fast-ps.cjs');

function runCli() {
  return import('../dist/cli/main.js').catch((err) => {
    if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli/main.js')) {
      process.stderr.write('supervisor: dist/ is missing; run `npm run build` (npm install runs it for you)\n');
      process.exit(2);
    }
    throw err;
  });
}

fastPs(process.argv.slice(2)).then((answered) => (answered ? undefined : runCli()), runCli);
