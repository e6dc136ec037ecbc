import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SupervisorError } from '../../../src/core/errors.js';
import { loadGoalStateFile, parseGoalState, type HandlerGoal } from '../../../src/supervisor/goal/goal-state.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/goal-states/', import.meta.url));
const HEX = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

const only = (text: string): HandlerGoal => {
  const [h] = parseGoalState(text, 'mem.json').handlers;
  assert.ok(h);
  return h;
};

describe('goal state: valid documents', () => {
  test("the contract's example document parses (fixture: hex digest filled in, Contoso.Base added)", async () => {
    const path = join(FIXTURES, 'contract-example.json');
    const goal = await loadGoalStateFile(path);
    assert.equal(goal.source, path);
    assert.equal(goal.etag, 'optional; an unchanged etag means nothing to do');
    assert.deepEqual(goal.warnings, []);
    assert.deepEqual(goal.handlers.map((h) => h.name), ['Contoso.Monitor', 'Contoso.Base']);
    const [monitor] = goal.handlers;
    assert.ok(monitor);
    assert.equal(monitor.version, '1.2');
    assert.equal(monitor.upgradePolicy, 'manual');
    assert.equal(monitor.state, 'enabled');
    assert.deepEqual(monitor.dependsOn, ['Contoso.Base']);
    assert.equal(monitor.allowDowngrade, false);
    assert.deepEqual(monitor.packages, [{
      version: '1.2.3',
      sha256: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08', // lowercased
      uris: ['file:///srv/pkgs/monitor-1.2.3.zip', 'http://127.0.0.1:8080/monitor-1.2.3.zip'],
    }]);
    assert.deepEqual(monitor.extensions, [{
      name: 'default', sequenceNumber: 3, publicSettings: {}, protectedSettings: '…', protectedSettingsCertThumbprint: '…',
    }]);
    assert.deepEqual(monitor.timeouts, { install: 900, enable: 300, disable: 900, update: 900, uninstall: 300 });
    assert.equal(monitor.heartbeatTimeout, 600);
    assert.equal(monitor.onUnresponsive, 'report');
    assert.deepEqual(monitor.handlerProperties, { arguments: '…', installedCriteria: '…' });
    assert.deepEqual(monitor.limits, { memoryMB: 512, cpuPercent: 50 });
    assert.equal(monitor.component, null);
  });

  test('a minimal handler is fully defaulted', () => {
    const goal = parseGoalState('{"handlers": [{"name": "A", "version": "1.0"}]}', 'mem.json');
    assert.equal(goal.etag, null);
    assert.deepEqual(goal.handlers, [{
      name: 'A', version: '1.0', upgradePolicy: 'manual', state: 'enabled', dependsOn: [], allowDowngrade: false,
      packages: [], extensions: [],
      timeouts: { install: 900, enable: 300, disable: 900, update: 900, uninstall: 300 },
      heartbeatTimeout: 600, onUnresponsive: 'report', handlerProperties: {}, limits: null, component: null,
    }]);
  });

  test('a partial timeouts object keeps the defaults of the rest; fractional seconds are fine', () => {
    const h = only('{"handlers": [{"name": "A", "version": "1", "timeouts": {"enable": 0.5, "install": 2}, "heartbeatTimeout": 0.25}]}');
    assert.deepEqual(h.timeouts, { install: 2, enable: 0.5, disable: 900, update: 900, uninstall: 300 });
    assert.equal(h.heartbeatTimeout, 0.25);
  });

  test('an extension gets name "default", sequence 0, {} public and null protected settings', () => {
    const h = only('{"handlers": [{"name": "A", "version": "1", "extensions": [{}]}]}');
    assert.deepEqual(h.extensions, [{
      name: 'default', sequenceNumber: 0, publicSettings: {}, protectedSettings: null, protectedSettingsCertThumbprint: null,
    }]);
  });

  test('settings are passed through as given (objects, strings, null)', () => {
    const h = only(JSON.stringify({ handlers: [{ name: 'A', version: '1', extensions: [
      { name: 'one', publicSettings: { commandToExecute: 'echo hi', nested: [1, { a: true }] }, protectedSettings: 'MIIB...base64' },
      { name: 'two', publicSettings: null, protectedSettings: { secret: 's' } },
    ] }] }));
    assert.deepEqual(h.extensions.map((e) => [e.publicSettings, e.protectedSettings]), [
      [{ commandToExecute: 'echo hi', nested: [1, { a: true }] }, 'MIIB...base64'],
      [null, { secret: 's' }],
    ]);
  });

  test('every enum value, limits and an empty handler list are accepted', () => {
    assert.deepEqual(parseGoalState('{"handlers": []}', 'mem.json').handlers, []);
    const goal = parseGoalState(JSON.stringify({ etag: 'e1', handlers: [
      { name: 'a', version: '1', state: 'disabled', upgradePolicy: 'auto', onUnresponsive: 'restart', allowDowngrade: true, limits: { memoryMB: 0.5 } },
      { name: 'B-2_x.y', version: '2.2.53.1', state: 'uninstall', limits: { cpuPercent: 10000 } },
      { name: 'c', version: '0', limits: {} },
    ] }), 'mem.json');
    assert.equal(goal.etag, 'e1');
    assert.deepEqual(goal.handlers.map((h) => [h.state, h.upgradePolicy, h.onUnresponsive, h.allowDowngrade, h.limits]), [
      ['disabled', 'auto', 'restart', true, { memoryMB: 0.5 }],
      ['uninstall', 'manual', 'report', false, { cpuPercent: 10000 }],
      ['enabled', 'manual', 'report', false, {}],
    ]);
  });

  test('a Device Update component is accepted, values stringified, nested properties dotted', () => {
    const h = only(JSON.stringify({ handlers: [{ name: 'Motor', version: '1', component: {
      id: 7, name: 'motor', manufacturer: 'contoso', model: 'virtual-motor', version: 1.2, group: 'motors', enabled: true,
      properties: { path: '/usr/local/contoso-devices/vacuum-1/motors/motor1', status: 'ok' }, tags: ['a', 'b'], none: null,
    } }] }));
    assert.deepEqual(h.component, {
      id: '7', name: 'motor', manufacturer: 'contoso', model: 'virtual-motor', version: '1.2', group: 'motors', enabled: 'true',
      'properties.path': '/usr/local/contoso-devices/vacuum-1/motors/motor1', 'properties.status': 'ok', tags: '["a","b"]',
    });
  });

  test('a leading byte-order mark is ignored', () => {
    assert.equal(only('\uFEFF{"handlers": [{"name": "A", "version": "1.0"}]}').name, 'A');
  });
});

describe('goal state: Azure agent leniency', () => {
  test('numbers where version strings are expected are read as their decimal text', () => {
    const h = only(JSON.stringify({ handlers: [{ name: 'A', version: 1.2,
      packages: [{ version: 1.25, sha256: HEX, uris: ['file:///a.zip'] }, { version: 2, sha256: HEX, uris: ['file:///b.zip'] }] }] }));
    assert.equal(h.version, '1.2');
    assert.deepEqual(h.packages.map((p) => p.version), ['1.25', '2']);
  });

  test('a numeric string sequenceNumber is read as a number', () => {
    const h = only(JSON.stringify({ handlers: [{ name: 'A', version: '1', extensions: [
      { name: 'x', sequenceNumber: '3' }, { name: 'y', sequenceNumber: '007' }, { name: 'z', sequenceNumber: 12 },
    ] }] }));
    assert.deepEqual(h.extensions.map((e) => e.sequenceNumber), [3, 7, 12]);
  });

  test('version strings keep the spelling given (the plan matches them numerically)', () => {
    assert.equal(only('{"handlers": [{"name": "A", "version": "01.2"}]}').version, '01.2');
  });
});

describe('goal state: unknown keys are warnings, not errors', () => {
  test('each unknown key is listed with its path (never its value: it could be a misspelt secret), and is not in the result', async () => {
    const path = join(FIXTURES, 'unknown-keys.json');
    const goal = await loadGoalStateFile(path);
    assert.deepEqual(goal.warnings.map((w) => [w.source, w.path, w.reason, 'value' in w]), [
      [path, 'schemaVersion', 'unknown key, ignored', false],
      [path, 'handlers[0].priority', 'unknown key, ignored', false],
      [path, 'handlers[0].packages[0].size', 'unknown key, ignored', false],
      [path, 'handlers[0].extensions[0].color', 'unknown key, ignored', false],
      [path, 'handlers[0].timeouts.enabel', 'unknown key, ignored', false],
    ]);
    const [h] = goal.handlers;
    assert.ok(h);
    assert.equal('priority' in h, false);
    assert.equal('enabel' in h.timeouts, false);
    assert.deepEqual(h.timeouts, { install: 0.5, enable: 300, disable: 900, update: 900, uninstall: 300 });
    assert.equal('size' in (h.packages[0] ?? {}), false);
    assert.equal('color' in (h.extensions[0] ?? {}), false);
  });

  test('a 3,000-character unknown key is named cut to 100 characters (found by the fuzz test)', () => {
    const goal = parseGoalState(JSON.stringify({ handlers: [{ name: 'A', version: '1', ['k'.repeat(3000)]: 1 }] }), 'mem.json');
    assert.deepEqual(goal.warnings.map((w) => w.path), [`handlers[0]["${'k'.repeat(97)}..."]`]);
  });

  test('keys inside settings and component are the handler\'s business, never warned about', () => {
    const goal = parseGoalState(JSON.stringify({ handlers: [{ name: 'A', version: '1',
      extensions: [{ publicSettings: { anything: 1 }, protectedSettings: { at: 'all' } }], component: { custom: 'x' } }] }), 'mem.json');
    assert.deepEqual(goal.warnings, []);
  });
});

describe('goal state: the result is deeply frozen', () => {
  test('mutating any level throws (strict mode)', () => {
    const goal = parseGoalState(JSON.stringify({ etag: 'e', handlers: [{ name: 'A', version: '1', dependsOn: [], x: 1,
      packages: [{ version: '1', sha256: HEX, uris: ['file:///a.zip'] }],
      extensions: [{ publicSettings: { deep: { er: [1] } } }], limits: { memoryMB: 1 }, component: { id: 'c' } }] }), 'mem.json');
    const h = goal.handlers[0] as unknown as Record<string, any>;
    const attempts: Array<() => void> = [
      () => { (goal as any).etag = 'changed'; },
      () => { (goal.handlers as any).push({}); },
      () => { (goal.warnings as any).pop(); },
      () => { (goal.warnings[0] as any).reason = 'x'; },
      () => { h['name'] = 'B'; },
      () => { h['dependsOn'].push('B'); },
      () => { h['timeouts'].install = 1; },
      () => { h['packages'][0].uris.push('file:///b.zip'); },
      () => { h['packages'][0].sha256 = 'x'; },
      () => { h['extensions'][0].publicSettings.deep.er.push(2); },
      () => { h['extensions'][0].publicSettings.added = true; },
      () => { h['limits'].memoryMB = 2; },
      () => { h['component'].id = 'd'; },
      () => { h['handlerProperties'].arguments = '-x'; },
    ];
    for (const attempt of attempts) assert.throws(attempt, TypeError, attempt.toString());
    assert.equal(goal.handlers[0]?.name, 'A');
  });

  test('parsing twice gives independent objects (no shared defaults)', () => {
    const a = only('{"handlers": [{"name": "A", "version": "1"}]}');
    const b = only('{"handlers": [{"name": "A", "version": "1"}]}');
    assert.notEqual(a.timeouts, b.timeouts);
    assert.notEqual(a.dependsOn, b.dependsOn);
    assert.deepEqual(a, b);
  });
});

describe('loadGoalStateFile', () => {
  let dir = '';
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'goal-state-')); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  test('reads and validates a real file, naming it as the source of every problem', async () => {
    const path = join(dir, 'bad.json');
    await writeFile(path, '{"handlers": [{"name": "A"}]}');
    await assert.rejects(loadGoalStateFile(path), (err: unknown) => {
      assert.ok(err instanceof SupervisorError);
      assert.equal(err.code, 'E_INVALID');
      assert.ok(err.message.includes(`${path}: handlers[0].version: required`), err.message);
      return true;
    });
  });

  test('a missing file is E_GOAL_STATE_READ naming the path', async () => {
    const path = join(dir, 'absent.json');
    await assert.rejects(loadGoalStateFile(path), (err: unknown) => {
      assert.ok(err instanceof SupervisorError);
      assert.equal(err.code, 'E_GOAL_STATE_READ');
      assert.equal(err.message, `cannot read goal state ${path}: no such file`);
      return true;
    });
  });

  test('a directory is E_GOAL_STATE_READ too', async () => {
    const path = join(dir, 'a-dir');
    await mkdir(path);
    await assert.rejects(loadGoalStateFile(path), { code: 'E_GOAL_STATE_READ', message: `cannot read goal state ${path}: it is a directory` });
  });
});

describe('goal state: certificatesFolder', () => {
  const doc = (extra: Record<string, unknown>) => JSON.stringify({ ...extra, handlers: [{ name: 'A', version: '1.0' }] });
  test('an absolute folder is handed to every handler; absent, none is', () => {
    assert.equal(parseGoalState(doc({ certificatesFolder: '/etc/certs' }), 'g.json').handlers[0]!.certificatesFolder, '/etc/certs');
    assert.equal(parseGoalState(doc({}), 'g.json').handlers[0]!.certificatesFolder, undefined);
    assert.deepEqual(parseGoalState(doc({ certificatesFolder: '/etc/certs' }), 'g.json').warnings, [], 'a known key');
  });
  test('a relative folder is refused, naming the field', () => {
    assert.throws(() => parseGoalState(doc({ certificatesFolder: 'certs' }), 'g.json'),
      (e: unknown) => /certificatesFolder/.test(JSON.stringify((e as { problems?: unknown }).problems ?? (e as Error).message)) && /absolute/.test(JSON.stringify((e as { problems?: unknown }).problems ?? (e as Error).message)));
  });
});
