/**
 * The spawner: a small Node process that forks handler commands for the supervisor.
 *
 * fork() copies the parent's page tables, so its cost grows with the parent's memory: measured
 * here, a spawn blocks a 52 MB Node process for ~2-4 ms and a 263 MB one for ~19 ms (see
 * docs/decisions.md). The daemon holding a thousand handlers is the big process; this one stays
 * small, and its forks run beside the daemon's main thread instead of on it.
 *
 * Protocol: spawner-protocol.ts. The commands it started live on in their own sessions, as they
 * would after a supervisor crash. It reads their output from pipes into bounded files
 * (output-capture.ts), so it leaves when its stdin ends (the supervisor closed it or died) and
 * no command's output pipe is open any more.
 */
import { spawn } from 'node:child_process';
import { type Capture, capturesOpen, onCaptureError, openCapture, whenNoCaptures } from './output-capture.js';
import { MAX_SPAWNER_LINE_BYTES, type SpawnRequest, type SpawnerReply, type SpawnerRequest } from './spawner-protocol.js';
import { LineSplitter } from '../../core/ndjson.js';
import { handlerBaseEnv } from './daemon-env.js';
import { releaseMemory } from '../../core/memory.js';

const baseEnv = handlerBaseEnv();

let queued: string[] = [];
function send(reply: SpawnerReply): void {
  // Replies of one turn of the event loop go out in one write.
  if (queued.length === 0) setImmediate(flush);
  queued.push(JSON.stringify(reply));
}
let supervisorGone = false;
function flush(): void {
  if (queued.length === 0) return; // already sent by the spawn loop
  const text = `${queued.join('\n')}\n`;
  queued = [];
  if (!supervisorGone) process.stdout.write(text);
}
// Its supervisor may be gone while it still drains output: nothing to tell then.
process.stdout.on('error', () => { supervisorGone = true; });
process.stderr.on('error', () => { /* its stderr is relayed by the supervisor, which may be gone */ });
onCaptureError((file, err) => process.stderr.write(`spawner: output of ${file} not fully written: ${err.message}\n`));

/**
 * An apply's burst of spawns grows this process's heap by ~5 MB (7.7 MB anonymous memory idle,
 * 12.8 MB after a fleet of 1000); one full collection once the requests have stopped for a few
 * seconds hands it back, as the daemon does after each apply (docs/decisions.md, "Daemon memory").
 */
const IDLE_COLLECT_MS = 3000;
let idleCollect: NodeJS.Timeout | null = null;
function noteBusy(): void {
  if (idleCollect) { idleCollect.refresh(); return; }
  idleCollect = setTimeout(() => { idleCollect = null; releaseMemory(); }, IDLE_COLLECT_MS);
  idleCollect.unref();
}

/** Commands started whose exit is not told yet. */
let running = 0;

function start(req: SpawnRequest): void {
  noteBusy();
  let child;
  let capture: Capture;
  try {
    capture = openCapture(req.stdoutFile, req.stderrFile, req.output ?? {});
    try {
      child = spawn(req.file, [...req.args], { cwd: req.cwd, env: { ...baseEnv, ...req.env }, detached: true, stdio: ['ignore', ...capture.fds] });
    } finally {
      capture.closeChildEnds();
    }
  } catch (err) {
    send({ t: 'failed', id: req.id, error: (err as Error).message });
    return;
  }
  if (child.pid === undefined) {
    child.once('error', (err) => send({ t: 'failed', id: req.id, error: err.message }));
    return;
  }
  send({ t: 'started', id: req.id, pid: child.pid });
  running++;
  // The exit is told once the output written before it is in the files (the result carries its tail).
  child.once('exit', (code, signal) => void capture.settled().then(() => { running--; send({ t: 'exit', id: req.id, code, signal }); }));
}

// A Ctrl-C, TERM or HUP to the supervisor's process group is the supervisor's to handle: it still
// needs to hear how the commands it is ending end, and their output is still to be drained.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});
process.on('SIGHUP', () => {});

let framing = new LineSplitter(MAX_SPAWNER_LINE_BYTES);
process.stdin.on('data', (chunk: Buffer) => {
  const lines: string[] = [];
  if (framing.feed(chunk, (line) => lines.push(line)) === 'tooLarge') {
    process.stderr.write(`spawner: a request line over ${MAX_SPAWNER_LINE_BYTES} bytes was dropped\n`);
    framing = new LineSplitter(MAX_SPAWNER_LINE_BYTES);
  }
  for (const line of lines) {
    let req: SpawnerRequest;
    try {
      req = JSON.parse(line) as SpawnerRequest;
    } catch {
      process.stderr.write(`spawner: not a request: ${line.slice(0, 200)}\n`);
      continue;
    }
    if (req.t === 'spawn') {
      start(req);
      // Each fork is told at once: a fork waits for the child's exec (~5-25 ms here under a burst), and
      // the supervisor's timeout of a command counts from its answer (run-command.ts).
      if (queued.length) flush();
    } else if (req.t === 'retire') {
      // The supervisor has had nothing to run for a while: an idle spawner is ~10-20 MB it need not hold.
      if (running === 0 && capturesOpen() === 0) {
        send({ t: 'retiring', id: 0 });
        flush();
        process.exit(0);
      }
      send({ t: 'staying', id: 0, running, pipes: capturesOpen() });
    }
  }
});
process.stdin.on('end', () => {
  if (queued.length) flush();
  if (capturesOpen() === 0) process.exit(0);
  // Commands it started still write: drain them until the last pipe closes.
  send({ t: 'linger', id: 0, pipes: capturesOpen() });
  flush();
  supervisorGone = true;
  whenNoCaptures(() => process.exit(0));
});
