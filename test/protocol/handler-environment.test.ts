import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { formatHandlerEnvironment, parseHandlerEnvironment, type HandlerEnvironment } from '../../src/protocol/handler-environment.js';
import { ValidationError } from '../../src/core/errors.js';

const ENV: HandlerEnvironment = {
  name: 'Contoso.Monitor',
  version: '1.2.3',
  logFolder: '/var/log/ext-supervisor/Contoso.Monitor',
  configFolder: '/var/lib/ext-supervisor/Contoso.Monitor-1.2.3/config',
  statusFolder: '/var/lib/ext-supervisor/Contoso.Monitor-1.2.3/status',
  heartbeatFile: '/var/lib/ext-supervisor/Contoso.Monitor-1.2.3/heartbeat.log',
  eventsFolder: '/var/log/ext-supervisor/Contoso.Monitor/events',
};

function rejection(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ValidationError, `expected ValidationError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a ValidationError');
}

describe('formatHandlerEnvironment', () => {
  test('writes the format version as the literal JSON number 1.0', () => {
    const text = formatHandlerEnvironment(ENV);
    assert.match(text, /"version":1\.0,/);
    const doc = JSON.parse(text) as Array<Record<string, unknown>>;
    assert.equal(doc.length, 1);
    assert.deepEqual(Object.keys(doc[0] ?? {}), ['name', 'version', 'handlerEnvironment'], 'the handler version is not written');
    assert.equal(doc[0]?.['name'], 'Contoso.Monitor');
    assert.equal(doc[0]?.['version'], 1);
    assert.deepEqual(doc[0]?.['handlerEnvironment'], {
      logFolder: ENV.logFolder,
      configFolder: ENV.configFolder,
      statusFolder: ENV.statusFolder,
      heartbeatFile: ENV.heartbeatFile,
      eventsFolder: ENV.eventsFolder,
      eventsFolder_preview: ENV.eventsFolder,
    });
  });

  test('escapes names that need it', () => {
    const text = formatHandlerEnvironment({ ...ENV, name: 'we"ird' });
    assert.equal((JSON.parse(text) as Array<{ name: string }>)[0]?.name, 'we"ird');
  });

  test('refuses relative paths and an empty name, naming every field', () => {
    const error = rejection(() => formatHandlerEnvironment({ ...ENV, name: '', logFolder: 'log', statusFolder: './status' }));
    const paths = error.problems.map((p) => p.path);
    assert.deepEqual(paths, ['name', 'handlerEnvironment.logFolder', 'handlerEnvironment.statusFolder']);
    assert.match(error.message, /"log"/);
  });
});

describe('parseHandlerEnvironment', () => {
  test('round trips', () => {
    const parsed = parseHandlerEnvironment(formatHandlerEnvironment(ENV), 'HandlerEnvironment.json');
    assert.deepEqual(parsed, {
      name: ENV.name,
      version: 1,
      logFolder: ENV.logFolder,
      configFolder: ENV.configFolder,
      statusFolder: ENV.statusFolder,
      heartbeatFile: ENV.heartbeatFile,
      eventsFolder: ENV.eventsFolder,
    });
    assert.ok(Object.isFrozen(parsed));
  });

  test('reads bytes and an agent-written file without eventsFolder', () => {
    const agentStyle = '[{"name": "X", "version": 1.0, "handlerEnvironment": {"logFolder": "/l", "configFolder": "/c", "statusFolder": "/s", "heartbeatFile": "/h"}}]';
    const parsed = parseHandlerEnvironment(Buffer.from(agentStyle), 'env.json');
    assert.equal(parsed.eventsFolder, null);
    assert.equal(parsed.heartbeatFile, '/h');
  });

  test('names the file and field of every problem', () => {
    const error = rejection(() => parseHandlerEnvironment('[{"name": "", "version": "x", "handlerEnvironment": {"logFolder": "rel"}}]', '/h/HandlerEnvironment.json'));
    assert.ok(error.problems.every((p) => p.source === '/h/HandlerEnvironment.json'));
    const paths = error.problems.map((p) => p.path);
    assert.ok(paths.includes('[0].name'));
    assert.ok(paths.includes('[0].version'));
    assert.ok(paths.includes('[0].handlerEnvironment.logFolder'));
    assert.ok(paths.includes('[0].handlerEnvironment.configFolder'));
  });

  test('rejects broken JSON and a non-array', () => {
    assert.match(rejection(() => parseHandlerEnvironment('[{', 'e.json')).message, /not valid JSON/);
    assert.match(rejection(() => parseHandlerEnvironment('{"name":"x"}', 'e.json')).message, /must be an array/);
  });
});
