import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeLayout, findMounts, ownV2Group, type CgroupLayout } from '../../../../src/supervisor/process/cgroup/detect.js';
import { cpuQuotaUs, describeLimits, memoryBytes } from '../../../../src/supervisor/process/cgroup/limits.js';
import { enterGroups } from '../../../../src/supervisor/process/cgroup/index.js';

const MOUNTINFO = [
  '30 24 0:26 / /sys/fs/cgroup rw,nosuid - tmpfs tmpfs ro,mode=755',
  '31 30 0:27 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
  '33 30 0:29 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  '34 30 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
  '35 30 0:31 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids',
  '36 30 0:32 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd',
].join('\n');

const layout = (over: Partial<CgroupLayout>): CgroupLayout => ({
  v2: '/sys/fs/cgroup/x', v1: new Map(), where: { memory: 'v2', cpu: 'v2', pids: 'v2' }, notes: [], ...over,
});

describe('cgroup detection', () => {
  test('mountinfo: the cgroup2 mount and each v1 controller (a shared cpu,cpuacct mount serves both)', () => {
    const m = findMounts(MOUNTINFO);
    assert.equal(m.v2, '/sys/fs/cgroup/unified');
    assert.deepEqual(Object.fromEntries(m.v1), { memory: '/sys/fs/cgroup/memory', cpu: '/sys/fs/cgroup/cpu,cpuacct',
      cpuacct: '/sys/fs/cgroup/cpu,cpuacct', pids: '/sys/fs/cgroup/pids' });
    assert.deepEqual(findMounts('').v1.size, 0);
  });

  test('the own cgroup2 group from /proc/self/cgroup', () => {
    assert.equal(ownV2Group('12:pids:/x\n0::/system.slice/ext-supervisor.service\n'), '/system.slice/ext-supervisor.service');
    assert.equal(ownV2Group('4:memory:/\n'), null);
  });

  test('the isolation line names the trees and controllers', () => {
    assert.equal(describeLayout(null), 'marks only');
    assert.equal(describeLayout(layout({})), 'cgroup2 (memory,cpu,pids)');
    assert.equal(describeLayout(layout({ v1: new Map([['memory', '/m'], ['cpu', '/c'], ['pids', '/p']]), where: { memory: 'v1', cpu: 'v1', pids: 'v1' } })),
      'cgroup2 + v1 memory,cpu,pids');
    assert.equal(describeLayout(layout({ v2: null, v1: new Map([['memory', '/m'], ['cpuacct', '/a']]), where: { memory: 'v1', cpu: null, pids: null } })),
      'cgroup v1 memory,cpuacct');
  });

  test('limits: values in the kernel units, and what status says about each', () => {
    assert.equal(cpuQuotaUs(20), 20_000);
    assert.equal(cpuQuotaUs(250), 250_000);
    assert.equal(cpuQuotaUs(0.1), 1000, 'the kernel floor of 1 ms');
    assert.equal(memoryBytes(64), 67_108_864);
    assert.equal(describeLimits(layout({}), null), 'none');
    assert.equal(describeLimits(layout({ where: { memory: 'v1', cpu: 'v2', pids: null } }), { memoryMB: 64, cpuPercent: 20, tasksMax: 50 }),
      'memory 64 MB (cgroup v1), cpu 20 % (cgroup2), tasks 50 not enforced (no pids cgroup)');
    assert.equal(describeLimits(null, { memoryMB: 64 }), 'memory 64 MB not enforced (no memory cgroup)');
  });

  test('the entering shell gets the procs files, then the command and its words unchanged', () => {
    const { file, args } = enterGroups(['/a/cgroup.procs', '/b/cgroup.procs'], '/bin/x', ['-- y', '']);
    assert.equal(file, '/bin/sh');
    assert.deepEqual(args.slice(2), ['ext-supervisor-enter', '/a/cgroup.procs', '/b/cgroup.procs', '--', '/bin/x', '-- y', '']);
  });

  test('a shell command runs in the entering shell, as /bin/sh -c runs it: same $0, no arguments, nothing set', () => {
    const dir = mkdtempSync(join(tmpdir(), 'enter-'));
    try {
      const procs = [join(dir, 'a.procs'), join(dir, 'b.procs')];
      const line = 'echo "$0|$#|${f-unset}|$$"; exit 7';
      const { file, args } = enterGroups(procs, '/bin/sh', ['-c', line]);
      const r = spawnSync(file, args, { encoding: 'utf8' });
      assert.equal(r.status, 7);
      const [zero, count, f, pid] = r.stdout.trim().split('|');
      assert.deepEqual([zero, count, f], ['/bin/sh', '0', 'unset']);
      // The pid that ran the line is the one written into every group: no exec in between.
      for (const p of procs) assert.equal(readFileSync(p, 'utf8').trim(), pid);
      assert.deepEqual(spawnSync('/bin/sh', ['-c', line], { encoding: 'utf8' }).stdout.split('|').slice(0, 3), [zero, count, f]);
      // A write that fails stops the run before the line: exit 125, the line never ran.
      const bad = enterGroups([join(dir, 'missing', 'x.procs')], '/bin/sh', ['-c', 'echo ran']);
      const r2 = spawnSync(bad.file, bad.args, { encoding: 'utf8' });
      assert.equal(r2.status, 125);
      assert.equal(r2.stdout, '');
      assert.match(r2.stderr, /cannot enter cgroup/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
