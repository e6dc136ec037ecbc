#!/usr/bin/env node
// Kept for `node bin/supervisor.js ...` in docs and scripts: the launcher is bin/supervisor.cjs.
import { createRequire } from 'node:module';

createRequire(import.meta.url)('./supervisor.cjs').main();
