#!/usr/bin/env node
'use strict';
/**
 * The launcher `npm install` and deploy/install.sh link as `supervisor`. CommonJS and one file on
 * purpose: a CommonJS entry starts without the ES module loader, and `supervisor ps --json`
 * against a running daemon is answered from here alone, without commander or dist/: it connects,
 * sends the handshake and `ps` in one write, and copies the result's bytes to stdout as the daemon
 * sent them (what the full CLI's callRaw prints, byte for byte). Anything else (other commands or
 * flags, no daemon, a refused handshake, an error answer, no answer within 5 s) declines before
 * anything is printed, and the compiled CLI in dist/ runs and says what went wrong
 * (docs/decisions.md, "`supervisor ps` start-up"). libuv's thread pool keeps its default size:
 * see docs/decisions.md ("Forking from a spawner process") for the measurements of a larger one.
 */
const { createConnection } = require('node:net');
const { isAbsolute, join, resolve } = require('node:path');

/** Same wire format as src/ipc/protocol.ts (PROTOCOL_VERSION 1, CLI_CLIENT_NAME). */
const PROTOCOL = 1;
const HELLO_LINE = `{"id":0,"method":"hello","params":{"protocol":${PROTOCOL},"client":"supervisor-cli"}}\n`;
const PS_LINE = '{"id":1,"method":"ps","params":{}}\n';
const HELLO_OK = Buffer.from('{"id":0,"ok":true,"result":');
const PS_OK = Buffer.from('{"id":1,"ok":true,"result":');
const TIMEOUT_MS = 5000;

/**
 * The --lib-dir of `ps --json [--lib-dir D] [--log-dir D]` (either order, `--flag=value` too);
 * undefined when there is none; null when argv is anything else (the full CLI handles it).
 */
function psJsonArgs(args) {
  if (args[0] !== 'ps') return null;
  let json = false;
  const values = {};
  for (let i = 1; i < args.length; i += 1) {
    const arg = args[i];
    if (arg === '--json' && !json) { json = true; continue; }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg : arg.slice(0, eq);
    if ((name !== '--lib-dir' && name !== '--log-dir') || name in values) return null;
    const value = eq === -1 ? args[++i] : arg.slice(eq + 1);
    if (value === undefined || value.trim() === '' || value.startsWith('-')) return null;
    values[name] = value;
  }
  return json ? { libDir: values['--lib-dir'] } : null;
}

/** The lib dir as src/storage/dirs.ts resolveDirs chooses it (test/cli/fast-ps.test.ts keeps the two in step). */
function libDirOf(flag, env, uid, cwd, home) {
  if (flag !== undefined) return resolve(cwd, flag);
  if (env.SUPERVISOR_LIB_DIR) return resolve(cwd, env.SUPERVISOR_LIB_DIR);
  if (uid === 0) return '/var/lib/ext-supervisor';
  const xdg = env.XDG_STATE_HOME;
  if (xdg && isAbsolute(xdg)) return join(resolve(xdg), 'ext-supervisor');
  const base = home;
  if (!base || !isAbsolute(base)) return null;
  return join(base, '.local', 'state', 'ext-supervisor');
}

/** Connects, asks, and resolves with the raw result bytes, or null on anything but two good answers. */
function askPs(socketPath) {
  return new Promise((done) => {
    const chunks = [];
    let settled = false;
    const socket = createConnection(socketPath);
    const finish = (value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      done(value);
    };
    const timer = setTimeout(() => finish(null), TIMEOUT_MS);
    socket.on('error', () => finish(null));
    socket.on('close', () => finish(null));
    socket.on('connect', () => socket.write(HELLO_LINE + PS_LINE));
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      if (chunk[chunk.length - 1] !== 0x0a) return;
      const all = Buffer.concat(chunks);
      const first = all.indexOf(0x0a);
      if (first === all.length - 1) return; // only the handshake's answer so far
      const hello = all.subarray(0, first);
      const ps = all.subarray(first + 1, all.length - 1);
      if (ps.indexOf(0x0a) !== -1) return finish(null); // more lines than asked for: not this protocol
      if (!hello.subarray(0, HELLO_OK.length).equals(HELLO_OK) || !helloAgrees(hello)) return finish(null);
      if (!ps.subarray(0, PS_OK.length).equals(PS_OK) || ps[ps.length - 1] !== 0x7d) return finish(null);
      finish(ps.subarray(PS_OK.length, ps.length - 1));
    });
  });
}

/** The handshake answer is small: parsed, to check the protocol the way connectControl does. */
function helloAgrees(line) {
  try {
    const result = JSON.parse(line.toString('utf8')).result;
    return result !== null && typeof result === 'object' && result.protocol === PROTOCOL && typeof (result.server && result.server.pid) === 'number';
  } catch {
    return false;
  }
}

/**
 * The exit code of `ps` from its rows, as src/cli/health.ts computes it (test/cli/exit-codes.test.ts
 * keeps the two in step): 1 a handler is Failed, 3 one is not running as its goal says, else 0.
 */
function psExitCode(rows) {
  let code = 0;
  for (const r of rows) {
    if (r.status === 'Failed') return 1;
    const ok = r.desiredState === 'enabled' ? r.state === 'Enabled' && r.status === 'Ready' : r.status !== 'Installing';
    if (!ok) code = 3;
  }
  return code;
}

/** Prints the daemon's `ps` rows and resolves true; false when the full CLI must run instead. */
async function fastPs(args, env = process.env) {
  const parsed = psJsonArgs(args);
  if (parsed === null) return false;
  // os only when the home folder decides (it is one more module to load on every start).
  const home = parsed.libDir === undefined && !env.SUPERVISOR_LIB_DIR ? require('node:os').homedir() : '';
  const libDir = libDirOf(parsed.libDir, env, process.getuid ? process.getuid() : -1, process.cwd(), home);
  if (libDir === null) return false;
  const rows = await askPs(join(libDir, 'supervisor.sock'));
  if (rows === null) return false;
  let code;
  try { code = psExitCode(JSON.parse(rows.toString('utf8'))); } catch { return false; }
  process.stdout.write(Buffer.concat([rows, Buffer.from('\n')]));
  process.exitCode = code;
  return true;
}

/**
 * `supervisor ps | head`: once the reader has gone, the rest of the output is dropped instead of
 * crashing on EPIPE with a stack trace; the command finishes and exits with its own status.
 */
function dropOutputWhenReaderGone() {
  process.stdout.on('error', (err) => {
    if (err && err.code === 'EPIPE') {
      process.stdout.write = () => true;
      return;
    }
    throw err;
  });
}

function runCli() {
  return import('../dist/cli/main.js').catch((err) => {
    if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli/main.js')) {
      process.stderr.write('supervisor: dist/ is missing; run `npm run build` (npm install runs it for you)\n');
      process.exit(2);
    }
    throw err;
  });
}

function main(args = process.argv.slice(2)) {
  dropOutputWhenReaderGone();
  return fastPs(args).then((answered) => (answered ? undefined : runCli()), runCli);
}

module.exports = { main, fastPs, psJsonArgs, libDirOf, psExitCode };
if (require.main === module) main();
