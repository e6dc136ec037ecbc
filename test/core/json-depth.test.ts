import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { describeDepthPath, findTooDeep, tooDeepReason } from '../../src/core/json-depth.js';

describe('findTooDeep', () => {
  test('exactly at the limit is fine; one level more is reported with its path and place', () => {
    assert.equal(findTooDeep('[[[]]]', 3), null);
    assert.deepEqual(findTooDeep('[[[[]]]]', 3), { limit: 3, path: [0, 0, 0], line: 1, column: 4 });
  });

  test('the path names keys and indexes as they are when the limit is crossed', () => {
    const text = '{"handlers": [{"name": "A"}, {"extensions": [{"publicSettings": {"k": [[1]]}}]}]}';
    assert.deepEqual(findTooDeep(text, 6)?.path, ['handlers', 1, 'extensions', 0, 'publicSettings', 'k']);
    assert.equal(findTooDeep(text, 8), null);
  });

  test('brackets, commas and escaped quotes inside strings and keys are not structure', () => {
    assert.equal(findTooDeep('["[[[[", "{{{{", "\\"[[[["]', 1), null);
    assert.deepEqual(findTooDeep('{"a\\"[b": [1, 2, {"c": 3}]}', 2)?.path, ['a"[b', 2]);
  });

  test('line and column point at the opening bracket past the limit', () => {
    assert.deepEqual(findTooDeep('{\n  "a": {\n    "b": [\n      {}]}}', 3), { limit: 3, path: ['a', 'b', 0], line: 4, column: 7 });
  });

  test('text that is not JSON is scanned as far as it goes, never thrown on', () => {
    assert.equal(findTooDeep('not json ]]] }', 2), null);
    assert.equal(findTooDeep('"unterminated [[[[', 1), null);
    assert.deepEqual(findTooDeep('{[[', 2)?.path, ['', 0]);
  });

  test('a million levels are refused at the first excess, without recursion', () => {
    const text = '['.repeat(1_000_000) + ']'.repeat(1_000_000);
    const deep = findTooDeep(text, 100);
    assert.equal(deep?.path.length, 100);
    assert.equal(deep?.column, 101);
  });
});

describe('messages', () => {
  test('a long path is cut after six segments and says how many more', () => {
    assert.equal(describeDepthPath([]), '(root)');
    assert.equal(describeDepthPath(['handlers', 0, 'name']), 'handlers[0].name');
    assert.equal(describeDepthPath(['a', 0, 0, 0, 0, 0, 0, 0, 0]), 'a[0][0][0][0][0]... (3 levels more)');
  });

  test('the reason names the limit and the place', () => {
    assert.equal(tooDeepReason({ limit: 64, path: [], line: 2, column: 9 }),
      'nested too deep: more than 64 levels of arrays and objects, the limit (line 2 column 9)');
  });
});
