#!/usr/bin/env node
// A long-running service handler: enable starts a detached worker that writes heartbeat.log
// and its status every few seconds; disable stops it. The supervisor tracks the worker even
// though it runs in its own session, and flags it Unresponsive if the heartbeat stops.
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');

const op = process.argv[2];
const env = JSON.parse(fs.readFileSync(path.join(__dirname, 'HandlerEnvironment.json'), 'utf8'))[0].handlerEnvironment;
const seq = process.env.ConfigSequenceNumber || '0';
const pidFile = path.join(__dirname, 'worker.pid');

function writeAtomic(file, data) {
  fs.writeFileSync(`${file}.tmp`, data);
  fs.renameSync(`${file}.tmp`, file);
}

function beat() {
  const now = new Date().toISOString();
  writeAtomic(env.heartbeatFile, JSON.stringify([{ version: '1.0', heartbeat: { status: 'ready', code: 0,
    formattedMessage: { lang: 'en-US', message: `serving since ${started}` } } }]));
  writeAtomic(path.join(env.statusFolder, `${seq}.status`), JSON.stringify([{ version: '1.0', timestampUTC: now,
    status: { name: 'Example.Service', operation: 'enable', status: 'success', code: 0,
      formattedMessage: { lang: 'en-US', message: `worker ${process.pid} alive at ${now}` } } }]));
}

let started;
if (op === 'worker') {
  started = new Date().toISOString();
  beat();
  setInterval(beat, Number(process.env.EXAMPLE_HEARTBEAT_SECONDS || 5) * 1000);
  process.on('SIGTERM', () => process.exit(0));
} else if (op === 'enable') {
  try { process.kill(Number(fs.readFileSync(pidFile, 'utf8')), 0); console.log('worker already running'); process.exit(0); } catch { /* not running */ }
  const child = spawn(process.execPath, [__filename, 'worker'], { detached: true, stdio: 'ignore' });
  fs.writeFileSync(pidFile, String(child.pid));
  child.unref();
  console.log(`started worker ${child.pid}`);
} else if (op === 'disable' || op === 'uninstall') {
  try { process.kill(Number(fs.readFileSync(pidFile, 'utf8')), 'SIGTERM'); console.log('stopped worker'); } catch { console.log('no worker running'); }
  fs.rmSync(pidFile, { force: true });
} else {
  console.log(`service handler: ${op}`);
}
