/**
 * Teardown runs in reverse dependency order (issue 17, item 6): enable brings Example.Hello up
 * before Example.Service, which depends on it; disable and uninstall take Example.Service down
 * first. The order is read from the log the fixture handlers append to.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Workspace, handlerEntry, type BuiltPackage, type LogLine } from '../../helpers/handlers.js';
import { applyDoc, killLeftovers, resultOf } from '../../helpers/fleet.js';
import { closePackagePool } from '../../../src/supervisor/packages/pool.js';

after(() => closePackagePool());

/** "handler op" of every command, in the order the commands ran (each one ended before the next started). */
const sequence = (lines: readonly LogLine[]): string[] => lines.filter((l) => l.phase === 'start').map((l) => `${l.handler} ${l.op}`);

describe('dependency order of teardown', () => {
  let ws: Workspace;
  let hello: BuiltPackage;
  let service: BuiltPackage;
  before(async () => {
    ws = await Workspace.create('exts-teardown-');
    hello = await ws.package({ name: 'Example.Hello', version: '1.0' });
    service = await ws.package({ name: 'Example.Service', version: '1.0' });
  });
  after(async () => { await killLeftovers(ws); await ws.dispose(); });

  // The dependency is listed first, so document order alone would tear it down first.
  const doc = (state: string) => ({ handlers: [handlerEntry('Example.Hello', [hello], { state }),
    handlerEntry('Example.Service', [service], { state, dependsOn: ['Example.Hello'] })] });

  const ended = (lines: readonly LogLine[], handler: string, op: string) => lines.find((l) => l.handler === handler && l.op === op && l.phase === 'end')!.t;
  const started = (lines: readonly LogLine[], handler: string, op: string) => lines.find((l) => l.handler === handler && l.op === op && l.phase === 'start')!.t;

  test('enable: the dependency first', async () => {
    const s = await applyDoc(ws, doc('enabled'), { concurrency: 16, installConcurrency: 4 });
    assert.ok(s.ok);
    const log = await ws.log();
    assert.ok(ended(log, 'Example.Hello', 'enable') <= started(log, 'Example.Service', 'install'), sequence(log).join(', '));
  });

  test('disable: the dependent first', async () => {
    const before = (await ws.log()).length;
    const s = await applyDoc(ws, doc('disabled'), { concurrency: 16, installConcurrency: 4 });
    assert.ok(s.ok);
    const log = (await ws.log()).slice(before);
    assert.deepEqual(sequence(log), ['Example.Service disable', 'Example.Hello disable']);
    assert.ok(ended(log, 'Example.Service', 'disable') <= started(log, 'Example.Hello', 'disable'));
  });

  test('uninstall of everything: the dependent is disabled and uninstalled before the dependency', async () => {
    await applyDoc(ws, doc('enabled'));
    const before = (await ws.log()).length;
    const s = await applyDoc(ws, doc('uninstall'), { concurrency: 16, installConcurrency: 4 });
    assert.ok(s.ok, JSON.stringify(s.results.map((r) => r.status)));
    const log = (await ws.log()).slice(before);
    assert.deepEqual(sequence(log), ['Example.Service disable', 'Example.Service uninstall', 'Example.Hello disable', 'Example.Hello uninstall']);
    assert.ok(ended(log, 'Example.Service', 'uninstall') <= started(log, 'Example.Hello', 'disable'));
    assert.equal(resultOf(s, 'Example.Hello').record.state, 'NotInstalled');
  });

  test('a dependent whose uninstall fails keeps its dependency installed', async () => {
    const stubborn = await ws.package({ name: 'Example.Service', version: '1.1', behavior: { uninstall: 'rc=5' } });
    const up = { handlers: [handlerEntry('Example.Hello', [hello]), handlerEntry('Example.Service', [stubborn], { dependsOn: ['Example.Hello'] })] };
    assert.ok((await applyDoc(ws, up)).ok);
    const s = await applyDoc(ws, { handlers: up.handlers.map((h) => ({ ...h, state: 'uninstall' })) });
    assert.equal(resultOf(s, 'Example.Service').reached, false);
    const dependency = resultOf(s, 'Example.Hello');
    assert.equal(dependency.reached, false);
    assert.match(dependency.status.message, /Example\.Service/);
    assert.equal(dependency.record.state, 'Enabled', 'nothing of the dependency ran');
  });
});
