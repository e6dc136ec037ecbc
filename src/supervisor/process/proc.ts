import { closeSync, openSync, readdirSync, readSync } from 'node:fs';

/** One process as /proc shows it; `startTicks` tells a reused pid apart from the original. */
export interface ProcInfo {
  readonly pid: number;
  readonly ppid: number;
  readonly pgid: number;
  readonly sid: number;
  /** One letter: R S D Z T t X I ... (zombies never leave this module as live processes). */
  readonly state: string;
  /** Field 22 of /proc/<pid>/stat: start time in clock ticks since boot. */
  readonly startTicks: number;
  readonly comm: string;
  readonly utimeTicks: number;
  readonly stimeTicks: number;
  readonly rssPages: number;
}

/** A parsed stat line plus the flags word, which tells kernel threads apart. */
export interface ProcStat extends ProcInfo {
  readonly flags: number;
}

// PF_KTHREAD from include/linux/sched.h: set on every kernel thread.
const PF_KTHREAD = 0x00200000;

// Field numbers (man 5 proc) of the values kept; the largest bounds how far a line is parsed.
const F_STATE = 3, F_PPID = 4, F_PGRP = 5, F_SESSION = 6, F_FLAGS = 9, F_UTIME = 14, F_STIME = 15, F_START = 22, F_RSS = 24;
const fields = new Float64Array(F_RSS + 1);

/**
 * Parses one /proc/<pid>/stat line. comm may hold spaces and ')' so the split is at the
 * LAST ')'; returns null for anything that does not look like a stat line.
 */
export function parseStat(text: string): ProcStat | null {
  return parseStatBytes(Buffer.from(text, 'utf8'));
}

/** parseStat on raw bytes, without splitting the line into 50 strings: scans parse thousands of these. */
export function parseStatBytes(buf: Buffer): ProcStat | null {
  const open = buf.indexOf(' (');
  const close = buf.lastIndexOf(0x29); // ')'
  if (open <= 0 || close < open + 1 || close + 3 > buf.length) return null;
  let pid = 0;
  for (let i = 0; i < open; i += 1) {
    const c = buf[i]!;
    if (c < 48 || c > 57) return null;
    pid = pid * 10 + (c - 48);
  }
  const state = String.fromCharCode(buf[close + 2]!);
  // Numeric fields start after "<state> "; each is an optionally negative decimal.
  let field = F_STATE + 1;
  let i = close + 4;
  while (field <= F_RSS && i < buf.length) {
    let neg = false;
    if (buf[i] === 45) { neg = true; i += 1; }
    let value = 0;
    let digits = 0;
    for (; i < buf.length; i += 1) {
      const c = buf[i]!;
      if (c < 48 || c > 57) break;
      value = value * 10 + (c - 48);
      digits += 1;
    }
    if (digits === 0 || (i < buf.length && buf[i] !== 32 && buf[i] !== 10)) return null;
    fields[field] = neg ? -value : value;
    field += 1;
    i += 1;
  }
  if (field <= F_RSS) return null;
  return {
    pid, comm: buf.toString('utf8', open + 2, close), state,
    ppid: fields[F_PPID]!, pgid: fields[F_PGRP]!, sid: fields[F_SESSION]!, flags: fields[F_FLAGS]!,
    utimeTicks: fields[F_UTIME]!, stimeTicks: fields[F_STIME]!, startTicks: fields[F_START]!, rssPages: fields[F_RSS]!,
  };
}

/** True for processes that count as gone: zombies (PID 1 here may never reap them) and dead ones. */
export function isGone(state: string): boolean {
  return state === 'Z' || state === 'X' || state === 'x';
}

/** True for kernel threads, which have no environment and must never be signalled. */
export function isKernelThread(stat: ProcStat): boolean {
  return (stat.flags & PF_KTHREAD) !== 0 || stat.pid === 2 || stat.ppid === 2;
}

// One reusable buffer: scans read thousands of tiny files and must not allocate per file.
let scratch = Buffer.allocUnsafe(64 * 1024);

/**
 * Reads a whole /proc (or cgroupfs) file into the shared scratch buffer (valid until the next call);
 * returns null when the process is gone or unreadable. With `oneLine`, for files the kernel
 * renders as one short line in a single read (stat, schedstat, uptime), a read that did not fill
 * the buffer is the whole file: the read that would return 0 is skipped (3 system calls instead
 * of 4, for ~3000 files per walk at 1000 handlers).
 */
export function readProcFile(path: string, oneLine = false): Buffer | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    let used = 0;
    for (;;) {
      if (used === scratch.length) {
        const bigger = Buffer.allocUnsafe(scratch.length * 2);
        scratch.copy(bigger, 0, 0, used);
        scratch = bigger;
      }
      const room = scratch.length - used;
      const n = readSync(fd, scratch, used, room, null);
      if (n === 0) break;
      used += n;
      if (oneLine && n < room) break;
    }
    return scratch.subarray(0, used);
  } catch {
    // ESRCH/EACCES mid-read: the process exited or is not ours to read.
    return null;
  } finally {
    closeSync(fd);
  }
}

/** Reads and parses /proc/<pid>/stat; null when the process no longer exists. */
export function readProcStat(pid: number): ProcStat | null {
  const buf = readProcFile(`/proc/${pid}/stat`, true);
  return buf === null ? null : parseStatBytes(buf);
}

/**
 * Finds `name=` among the NUL-separated entries of an environ buffer and returns its value
 * (the first entry wins, as getenv does); null when absent.
 */
export function findEnvVar(environ: Buffer, name: string): string | null {
  const needle = `${name}=`;
  let at = environ.indexOf(needle);
  while (at !== -1) {
    if (at === 0 || environ[at - 1] === 0) {
      const start = at + needle.length;
      const end = environ.indexOf(0, start);
      return environ.toString('utf8', start, end === -1 ? environ.length : end);
    }
    at = environ.indexOf(needle, at + 1);
  }
  return null;
}

/** Lists every pid under /proc with one readdir (threads are not listed, only thread groups). */
export function listPids(procRoot = '/proc'): number[] {
  const pids: number[] = [];
  for (const name of readdirSync(procRoot)) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const pid = Number(name);
    if (Number.isInteger(pid)) pids.push(pid);
  }
  return pids;
}
