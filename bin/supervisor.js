#!/usr/bin/env node
// Kept for `node bin/supervisor.js ...` in docs and scripts: the launcher is bin/supervisor.cjs.
import './supervisor.cjs';
