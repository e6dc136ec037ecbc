import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildReport, reportContentKey, reportPath, serializeReport, utcTimestamp, REPORT_FILE_NAME } from '../../../src/supervisor/monitor/status-report.js';
import type { HandlerRow } from '../../../src/supervisor/monitor/types.js';

const T0 = Date.UTC(2024, 4, 1, 12, 0, 0, 789);
const supervisor = { version: '0.1.0', status: 'Ready', message: 'supervisor is running' };

const row = (over: Partial<HandlerRow> = {}): HandlerRow => ({
  name: 'Contoso.Monitor', version: '1.2.3', desiredState: 'enabled', state: 'Enabled', status: 'Ready', code: 0, message: 'Plugin enabled',
  pids: [101, 102], cpuPercent: 3.5, memoryBytes: 1 << 20, uptimeSeconds: 60, heartbeatAgeSeconds: 5,
  heartbeat: { status: 'ready', code: 0, message: 'ok' }, restarts: 1,
  lastOperation: { name: 'enable', result: 'succeeded', exitCode: 0, startedAt: '2024-05-01T11:59:00.000Z', endedAt: '2024-05-01T11:59:01.000Z' },
  extensions: [{ name: 'default', sequenceNumber: 3, status: 'success', code: 0, message: 'done',
    substatus: [{ name: 'step', status: 'warning', code: 2, message: 'slow disk' }] }],
  ...over,
});

test('the report has exactly the contract keys, in the contract order, at every level', () => {
  const report = buildReport([row()], supervisor, T0);
  assert.deepEqual(Object.keys(report), ['version', 'timestampUTC', 'supervisor', 'handlers']);
  assert.deepEqual(Object.keys(report.supervisor), ['version', 'status', 'message']);
  const [h] = report.handlers;
  assert.ok(h);
  assert.deepEqual(Object.keys(h), ['name', 'version', 'state', 'status', 'code', 'message', 'extensions']);
  assert.deepEqual(Object.keys(h.extensions[0] ?? {}), ['name', 'sequenceNumber', 'status', 'code', 'message', 'substatus']);
  assert.deepEqual(Object.keys(h.extensions[0]?.substatus[0] ?? {}), ['name', 'status', 'code', 'message']);
});

test('the report carries the row values and the supervisor line, and round-trips through JSON unchanged', () => {
  const report = buildReport([row(), row({ name: 'Other', version: null, state: 'NotInstalled', status: 'Failed', code: 1001, message: 'download failed', extensions: [] })],
    supervisor, T0);
  const expected = {
    version: '1.0',
    timestampUTC: '2024-05-01T12:00:00Z',
    supervisor: { version: '0.1.0', status: 'Ready', message: 'supervisor is running' },
    handlers: [
      { name: 'Contoso.Monitor', version: '1.2.3', state: 'Enabled', status: 'Ready', code: 0, message: 'Plugin enabled',
        extensions: [{ name: 'default', sequenceNumber: 3, status: 'success', code: 0, message: 'done',
          substatus: [{ name: 'step', status: 'warning', code: 2, message: 'slow disk' }] }] },
      { name: 'Other', version: null, state: 'NotInstalled', status: 'Failed', code: 1001, message: 'download failed', extensions: [] },
    ],
  };
  assert.deepEqual(report, expected);
  assert.deepEqual(JSON.parse(JSON.stringify(report)), expected);
});

test('row fields that belong to ps only (pids, cpu, heartbeat, lastOperation...) never reach the report', () => {
  const text = JSON.stringify(buildReport([row()], supervisor, T0));
  for (const key of ['pids', 'cpuPercent', 'memoryBytes', 'uptimeSeconds', 'heartbeatAgeSeconds', 'heartbeat', 'restarts', 'lastOperation', 'desiredState']) {
    assert.ok(!text.includes(`"${key}":`), `${key} leaked into the report`);
  }
});

test('an empty fleet is a valid report with no handlers', () => {
  const report = buildReport([], supervisor, T0);
  assert.deepEqual(report.handlers, []);
  assert.equal(report.version, '1.0');
});

test('the content key ignores the timestamp and changes with any reported value', () => {
  const a = buildReport([row()], supervisor, T0);
  const later = buildReport([row()], supervisor, T0 + 60_000);
  assert.notEqual(a.timestampUTC, later.timestampUTC);
  assert.equal(reportContentKey(a), reportContentKey(later));
  assert.notEqual(reportContentKey(a), reportContentKey(buildReport([row({ code: 1 })], supervisor, T0)));
  assert.notEqual(reportContentKey(a), reportContentKey(buildReport([row()], { ...supervisor, status: 'Stopping' }, T0)));
  assert.equal(reportContentKey(a), reportContentKey(buildReport([row({ cpuPercent: 99, pids: [1], heartbeatAgeSeconds: 77 })], supervisor, T0)),
    'ps-only fields must not cause a rewrite');
});

test('timestamps are UTC to the second, as the agent writes them; the file lives in the lib dir', () => {
  assert.equal(utcTimestamp(Date.UTC(1999, 11, 31, 23, 59, 59, 999)), '1999-12-31T23:59:59Z');
  assert.equal(reportPath('/var/lib/ext-supervisor'), `/var/lib/ext-supervisor/${REPORT_FILE_NAME}`);
  assert.equal(REPORT_FILE_NAME, 'status-report.json');
});

test('serializeReport gives JSON.stringify\'s text of the report, key for key, and its content key', () => {
  const doc = buildReport([row(), row({ name: 'B.Ünï', message: 'résumé … "quoted"\n' })], supervisor, T0);
  const { key, json } = serializeReport(doc);
  assert.equal(json, JSON.stringify(doc));
  assert.equal(key, reportContentKey(doc));
  assert.equal(key, serializeReport(buildReport([row(), row({ name: 'B.Ünï', message: 'résumé … "quoted"\n' })], supervisor, T0 + 5000)).key, 'the timestamp is not content');
});

