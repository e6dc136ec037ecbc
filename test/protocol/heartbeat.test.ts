import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { heartbeatHandlerStatus, parseHeartbeat, type Heartbeat, type HeartbeatResult } from '../../src/protocol/heartbeat.js';

function ok(result: HeartbeatResult): Heartbeat {
  assert.ok(result.ok, `expected ok, got ${result.ok ? '' : result.problem}`);
  return result.heartbeat;
}

describe('parseHeartbeat', () => {
  test('reads the documented form', () => {
    const text = '[{"version": 1.0, "heartbeat": {"status": "ready", "code": 0, "formattedMessage": {"lang": "en-US", "message": "all good"}}}]';
    assert.deepEqual(ok(parseHeartbeat(text, 'heartbeat.log')), { status: 'ready', code: 0, message: 'all good' });
  });

  test('lower-cases the status as given and reads codes as numbers or numeric strings', () => {
    const h = ok(parseHeartbeat('[{"heartbeat": {"status": "NotReady", "code": "12", "formattedMessage": {"lang": "en-US", "message": "busy"}}}]', 'h'));
    assert.deepEqual(h, { status: 'notready', code: 12, message: 'busy' });
    assert.equal(ok(parseHeartbeat('[{"heartbeat": {"status": "Ready"}}]', 'h')).code, 0);
    assert.equal(ok(parseHeartbeat('[{"heartbeat": {"status": "Ready", "code": "x"}}]', 'h')).code, 0);
    assert.equal(ok(parseHeartbeat('[{"heartbeat": {"status": "Degraded"}}]', 'h')).status, 'degraded');
  });

  test('a plain message, a string formattedMessage, the first element only, a bare object, bytes', () => {
    assert.equal(ok(parseHeartbeat('[{"heartbeat": {"status": "ready", "message": "plain"}}]', 'h')).message, 'plain');
    assert.equal(ok(parseHeartbeat('[{"heartbeat": {"status": "ready", "formattedMessage": "str"}}]', 'h')).message, 'str');
    assert.equal(ok(parseHeartbeat('[{"heartbeat": {"status": "ready"}}, {"heartbeat": {"status": "notready"}}]', 'h')).status, 'ready');
    assert.equal(ok(parseHeartbeat('{"heartbeat": {"status": "installing"}}', 'h')).status, 'installing');
    assert.equal(ok(parseHeartbeat(Buffer.from('\uFEFF[{"heartbeat": {"status": "ready"}}]'), 'h')).status, 'ready');
    assert.equal(ok(parseHeartbeat('[{"heartbeat": {"status": "ready"}}]', 'h')).message, '');
  });

  test('malformed files give a problem naming the file and the reason', () => {
    const cases: Array<[string, RegExp]> = [
      ['', /empty/], ['not json', /not valid JSON/], ['[]', /first element/], ['[{"status": "ready"}]', /missing "heartbeat" object/],
      ['[{"heartbeat": {"code": 0}}]', /missing "heartbeat\.status"/], ['[{"heartbeat": {"status": " "}}]', /missing "heartbeat\.status"/],
    ];
    for (const [text, reason] of cases) {
      const result = parseHeartbeat(text, '/lib/h-1.0/heartbeat.log');
      assert.ok(!result.ok, text);
      assert.match(result.problem, /^heartbeat file \/lib\/h-1\.0\/heartbeat\.log is malformed: /);
      assert.match(result.problem, reason);
    }
  });
});

describe('heartbeatHandlerStatus', () => {
  test('maps the statuses the agent accepts, in any case', () => {
    assert.equal(heartbeatHandlerStatus('ready'), 'Ready');
    assert.equal(heartbeatHandlerStatus('NotReady'), 'NotReady');
    assert.equal(heartbeatHandlerStatus('not_ready'), 'NotReady');
    assert.equal(heartbeatHandlerStatus('Installing'), 'Installing');
    assert.equal(heartbeatHandlerStatus('unresponsive'), 'Unresponsive');
    assert.equal(heartbeatHandlerStatus('degraded'), null);
  });
});
