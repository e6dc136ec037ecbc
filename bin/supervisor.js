#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (built by `npm run build`, run by npm's prepare).
// libuv's thread pool keeps its default size: see docs/decisions.md ("Forking from a spawner
// process") for the measurements of a larger one.
import('../dist/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli/main.js')) {
    process.stderr.write('supervisor: dist/ is missing; run `npm run build` (npm install runs it for you)\n');
    process.exit(2);
  }
  throw err;
});
