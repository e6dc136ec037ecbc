import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Workspace, handlerEntry, opsOf } from '../../helpers/handlers.js';
import { applyDoc, killLeftovers, liveProcesses, resultOf } from '../../helpers/fleet.js';
import { closePackagePool } from '../../../src/supervisor/packages/pool.js';
import { listPids, readProcStat } from '../../../src/supervisor/process/proc.js';

after(() => closePackagePool());

async function withWorkspace(fn: (ws: Workspace) => Promise<void>): Promise<void> {
  const ws = await Workspace.create();
  try { await fn(ws); } finally { await killLeftovers(ws); await ws.dispose(); }
}

/** Every live process whose environment mentions the token: proof by /proc, not by exit events. */
function survivorsWith(token: string): number[] {
  const out: number[] = [];
  for (const pid of listPids()) {
    if (pid === process.pid) continue;
    const st = readProcStat(pid);
    if (!st || st.state === 'Z' || st.state === 'X') continue;
    try {
      if (readFileSync(`/proc/${pid}/environ`, 'latin1').includes(token)) out.push(pid);
    } catch { /* gone or unreadable */ }
  }
  return out;
}

describe('lifecycle: kill on timeout', () => {
  test('a hung enable (ignores SIGTERM, setsid grandchild, double fork) is ended at its timeout, code 1011, nothing survives', () => withWorkspace(async (ws) => {
    const token = `HUNG_${process.pid}_${Date.now()}`;
    const pkg = await ws.package({ name: 'Hung', version: '1.0', behavior: { enable: [
      `export ${token}=1`,
      `trap '' TERM`,
      `setsid sh -c "trap '' TERM; sleep 300" </dev/null >/dev/null 2>&1 &`,
      `( sh -c "trap '' TERM; sleep 300" </dev/null >/dev/null 2>&1 & ) &`,
      `echo started-hanging`,
      `sleep 300`,
    ].join('\n') } });
    const t0 = Date.now();
    const s = await applyDoc(ws, { handlers: [handlerEntry('Hung', [pkg], { timeouts: { enable: 0.6 } })] }, { graceMs: 300 });
    const took = Date.now() - t0;
    const r = resultOf(s, 'Hung');
    assert.equal(r.reached, false);
    assert.equal(r.status.status, 'Failed');
    assert.equal(r.status.code, 1011);
    assert.match(r.status.message, /enable timed out after 0\.6 s[\s\S]*started-hanging/);
    assert.equal(r.failure?.result, 'timedOut');
    assert.ok(took < 10_000, `apply took ${took} ms`);
    assert.deepEqual(survivorsWith(token), [], 'no process of the hung command survives (scanned /proc)');
    assert.equal((await liveProcesses(ws)).get('Hung'), undefined);
  }));

  test('a failing install reports 1007 with the tail of stdout and stderr', () => withWorkspace(async (ws) => {
    const pkg = await ws.package({ name: 'Bad', version: '1.0', behavior: { install: 'echo some output; echo disk full >&2; rc=4' } });
    const r = resultOf(await applyDoc(ws, { handlers: [handlerEntry('Bad', [pkg])] }), 'Bad');
    assert.equal(r.status.code, 1007);
    assert.match(r.status.message, /install failed with exit code 4/);
    assert.match(r.status.message, /\[stdout\]\nsome output/);
    assert.match(r.status.message, /\[stderr\]\ndisk full/);
    assert.equal(r.record.state, 'NotInstalled');
    assert.deepEqual(opsOf(await ws.log()), ['install 1.0'], 'enable does not run after a failed install');
  }));

  test('a package with a malformed manifest fails that handler alone (1003)', () => withWorkspace(async (ws) => {
    const bad = await ws.package({ name: 'Broken', version: '1.0', rawManifest: '[{"name": "Broken", "version": "1.0", "handlerManifest": {' });
    const good = await ws.package({ name: 'Fine', version: '1.0' });
    const s = await applyDoc(ws, { handlers: [handlerEntry('Broken', [bad]), handlerEntry('Fine', [good])] });
    assert.equal(resultOf(s, 'Broken').reached, false);
    assert.equal(resultOf(s, 'Broken').status.code, 1003);
    assert.match(resultOf(s, 'Broken').status.message, /HandlerManifest\.json/);
    assert.equal(resultOf(s, 'Fine').reached, true);
  }));

  test('a checksum that never matches fails with 1001 naming the uri', () => withWorkspace(async (ws) => {
    const pkg = await ws.package({ name: 'Sum', version: '1.0' });
    const r = resultOf(await applyDoc(ws, { handlers: [handlerEntry('Sum', [{ ...pkg, sha256: 'b'.repeat(64) }])] }), 'Sum');
    assert.equal(r.status.code, 1001);
    assert.ok(r.status.message.includes(pkg.uris[0]!), r.status.message);
  }));
});

describe('lifecycle: dependsOn', () => {
  test('a failed dependency fails its dependents transitively, naming it; others go on', () => withWorkspace(async (ws) => {
    const base = await ws.package({ name: 'Base', version: '1.0', behavior: { install: 'rc=1' } });
    const mid = await ws.package({ name: 'Mid', version: '1.0' });
    const top = await ws.package({ name: 'Top', version: '1.0' });
    const other = await ws.package({ name: 'Other', version: '1.0' });
    const s = await applyDoc(ws, { handlers: [
      handlerEntry('Top', [top], { dependsOn: ['Mid'] }),
      handlerEntry('Mid', [mid], { dependsOn: ['Base'] }),
      handlerEntry('Base', [base]),
      handlerEntry('Other', [other]),
    ] });
    assert.equal(resultOf(s, 'Base').status.code, 1007);
    assert.match(resultOf(s, 'Mid').status.message, /dependency "Base"/);
    assert.match(resultOf(s, 'Top').status.message, /dependency "Mid"/);
    assert.equal(resultOf(s, 'Other').reached, true);
    const ran = opsOf(await ws.log());
    assert.ok(!ran.some((o) => o.includes('Mid') || o.includes('Top')));
    assert.deepEqual(ran.filter((o) => o.startsWith('install') || o.startsWith('enable')).length, 3, 'Base install + Other install/enable');
  }));

  test('dependencies reach their goal first', () => withWorkspace(async (ws) => {
    const a = await ws.package({ name: 'A', version: '1.0', behavior: { enable: 'sleep 0.2' } });
    const b = await ws.package({ name: 'B', version: '1.0' });
    const s = await applyDoc(ws, { handlers: [handlerEntry('B', [b], { dependsOn: ['A'] }), handlerEntry('A', [a])] }, { installConcurrency: 4 });
    assert.ok(s.ok);
    const lines = await ws.log();
    const aEnableEnd = lines.find((l) => l.handler === 'A' && l.op === 'enable' && l.phase === 'end')!.t;
    const bFirst = lines.find((l) => l.handler === 'B')!.t;
    assert.ok(bFirst >= aEnableEnd, 'B starts after A is enabled');
  }));
});

describe('lifecycle: the apply result is persisted', () => {
  test('state file records the lifecycle state', () => withWorkspace(async (ws) => {
    const pkg = await ws.package({ name: 'P', version: '1.0' });
    await applyDoc(ws, { handlers: [handlerEntry('P', [pkg])] });
    const rec = JSON.parse(await readFile(`${ws.libDir}/state/P.json`, 'utf8'));
    assert.equal(rec.state, 'Enabled');
    assert.equal(rec.version, '1.0');
  }));
});
