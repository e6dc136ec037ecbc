import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { findEnvVar, isGone, isKernelThread, listPids, parseStat, readProcFile, readProcStat } from '../../../src/supervisor/process/proc.js';

// A real line from /proc/<pid>/stat (52 fields), comm swapped per case.
const tail = 'S 100 4242 4242 0 -1 4194560 210 0 0 0 7 3 0 0 20 0 1 0 987654 8704000 321 18446744073709551615 1 1 0 0 0 0 0 0 65536 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0';

describe('parseStat', () => {
  test('reads the fields by position after the comm', () => {
    const s = parseStat(`4243 (sleep) ${tail}\n`);
    assert.ok(s);
    assert.deepEqual(
      { pid: s.pid, comm: s.comm, state: s.state, ppid: s.ppid, pgid: s.pgid, sid: s.sid, utime: s.utimeTicks, stime: s.stimeTicks, start: s.startTicks, rss: s.rssPages },
      { pid: 4243, comm: 'sleep', state: 'S', ppid: 100, pgid: 4242, sid: 4242, utime: 7, stime: 3, start: 987654, rss: 321 },
    );
  });

  test('splits at the LAST parenthesis: comm may hold spaces and ")"', () => {
    const s = parseStat(`77 (a) b (c) S 1 ) ${tail}`);
    assert.equal(s?.comm, 'a) b (c) S 1 ');
    assert.equal(s?.ppid, 100);
    assert.equal(s?.startTicks, 987654);
  });

  test('rejects text that is not a stat line', () => {
    assert.equal(parseStat(''), null);
    assert.equal(parseStat('12 no parens here'), null);
    assert.equal(parseStat('12 (short) S 1 2'), null);
    assert.equal(parseStat(`x (sleep) ${tail}`), null);
  });

  test('kernel threads are told apart by PF_KTHREAD or kthreadd parentage', () => {
    const kthread = parseStat(`9 (kworker/0:1) I 2 0 0 0 -1 69238880 ${tail.split(' ').slice(7).join(' ')}`);
    assert.ok(kthread);
    assert.equal(isKernelThread(kthread), true);
    const user = parseStat(`4243 (sleep) ${tail}`);
    assert.ok(user);
    assert.equal(isKernelThread(user), false);
  });
});

test('isGone counts zombies and dead processes as gone, nothing else', () => {
  assert.equal(isGone('Z'), true);
  assert.equal(isGone('X'), true);
  for (const s of ['R', 'S', 'D', 'T', 'I']) assert.equal(isGone(s), false);
});

describe('findEnvVar', () => {
  const env = Buffer.from('A=1\0XEXT=no\0EXT=yes:1\0EXT=second\0EMPTY=\0', 'utf8');
  test('finds a whole entry, not a suffix of another name, first one wins', () => {
    assert.equal(findEnvVar(env, 'EXT'), 'yes:1');
    assert.equal(findEnvVar(env, 'A'), '1');
    assert.equal(findEnvVar(env, 'EMPTY'), '');
    assert.equal(findEnvVar(env, 'MISSING'), null);
  });
  test('an entry at the very end without a trailing NUL is read whole', () => {
    assert.equal(findEnvVar(Buffer.from('B=2\0LAST=tail'), 'LAST'), 'tail');
  });
});

test('readProcStat and listPids see this very process', () => {
  const me = readProcStat(process.pid);
  assert.ok(me);
  assert.equal(me.pid, process.pid);
  assert.equal(me.ppid, process.ppid);
  assert.ok(me.startTicks > 0);
  assert.ok(listPids().includes(process.pid));
  assert.equal(readProcStat(2 ** 30), null);
});

test('readProcFile: a one-line /proc file in one read, and a file larger than the buffer still read whole', async () => {
  const { mkdtempSync, readFileSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const own = readProcFile(`/proc/${process.pid}/stat`, true);
  assert.ok(own && parseStat(own.toString('utf8'))?.pid === process.pid);
  const dir = mkdtempSync(join(tmpdir(), 'procfile-'));
  try {
    const big = Buffer.alloc(200 * 1024, 0x61);
    big[big.length - 1] = 0x0a;
    writeFileSync(join(dir, 'big'), big);
    for (const oneLine of [true, false]) {
      const got = readProcFile(join(dir, 'big'), oneLine);
      assert.equal(got?.length, big.length, `oneLine ${oneLine}: every byte, past the first full buffer`);
      assert.ok(got.equals(readFileSync(join(dir, 'big'))));
    }
    assert.equal(readProcFile(join(dir, 'missing'), true), null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
