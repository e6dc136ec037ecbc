#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (built by `npm run build`, run by npm's prepare).
// libuv's 4 threads serve every fs call and every fsync of the atomic writes; with hundreds of
// handlers they queue behind each other (an apply of 200 handlers: 16.8 s with 4, 13.7 s with 16).
// Read by libuv when its pool first starts, so it must be set before any file is touched.
process.env.UV_THREADPOOL_SIZE ??= '16';
import('../dist/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli/main.js')) {
    process.stderr.write('supervisor: dist/ is missing; run `npm run build` (npm install runs it for you)\n');
    process.exit(2);
  }
  throw err;
});
