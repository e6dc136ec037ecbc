import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  asRecord, contentStart, decodeText, formattedMessageText, HANDLER_FILE_MAX_DEPTH, lenientBoolean, lenientInteger, lenientNumber, lenientString, tryParseJson,
} from '../../src/protocol/lenient.js';

describe('lenientNumber', () => {
  test('reads numbers and numeric strings', () => {
    assert.equal(lenientNumber(3), 3);
    assert.equal(lenientNumber('0'), 0);
    assert.equal(lenientNumber(' 12 '), 12);
    assert.equal(lenientNumber('-1'), -1);
    assert.equal(lenientNumber('1.5'), 1.5);
    assert.equal(lenientNumber('1e3'), 1000);
  });

  test('refuses what is not a number', () => {
    for (const value of ['', ' ', 'abc', '12abc', '0x10', null, undefined, true, {}, [], Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.equal(lenientNumber(value), undefined, `value ${String(value)}`);
    }
  });

  test('reads hex strings only when asked', () => {
    assert.equal(lenientNumber('0x30500205', { hex: true }), 0x30500205);
    assert.equal(lenientNumber('0X1f', { hex: true }), 31);
    assert.equal(lenientNumber('-0x10', { hex: true }), -16);
    assert.equal(lenientNumber('0xZZ', { hex: true }), undefined);
  });

  test('lenientInteger truncates', () => {
    assert.equal(lenientInteger('7.9'), 7);
    assert.equal(lenientInteger(-2.5), -2);
    assert.equal(lenientInteger('x'), undefined);
  });
});

describe('lenientBoolean and lenientString', () => {
  test('booleans and "true"/"false" strings in any case', () => {
    assert.equal(lenientBoolean(true), true);
    assert.equal(lenientBoolean(false), false);
    assert.equal(lenientBoolean('True'), true);
    assert.equal(lenientBoolean(' FALSE '), false);
    assert.equal(lenientBoolean('yes'), undefined);
    assert.equal(lenientBoolean(1), undefined);
  });

  test('strings and numbers as strings', () => {
    assert.equal(lenientString('1.0'), '1.0');
    assert.equal(lenientString(1.5), '1.5');
    assert.equal(lenientString(null), undefined);
    assert.equal(lenientString(Number.NaN), undefined);
  });
});

describe('document helpers', () => {
  test('asRecord accepts plain objects only', () => {
    assert.deepEqual(asRecord({ a: 1 }), { a: 1 });
    assert.equal(asRecord([]), undefined);
    assert.equal(asRecord(null), undefined);
    assert.equal(asRecord('x'), undefined);
  });

  test('formattedMessageText reads the object, string and null forms', () => {
    assert.equal(formattedMessageText({ lang: 'en-US', message: 'hi' }), 'hi');
    assert.equal(formattedMessageText('plain'), 'plain');
    assert.equal(formattedMessageText(null), undefined);
    assert.equal(formattedMessageText({ lang: 'en-US' }), undefined);
  });

  test('contentStart is single-lined and bounded', () => {
    assert.equal(contentStart('a\n  b\tc'), 'a b c');
    const long = contentStart('x'.repeat(500));
    assert.equal(long, `${'x'.repeat(200)}...`);
  });

  test('decodeText drops a byte-order mark from strings and bytes', () => {
    assert.equal(decodeText('\uFEFF[1]'), '[1]');
    assert.equal(decodeText(Buffer.from('\uFEFF{"a":1}', 'utf8')), '{"a":1}');
    assert.equal(decodeText(new Uint8Array([0x68, 0x69])), 'hi');
  });

  test('tryParseJson reports instead of throwing', () => {
    assert.deepEqual(tryParseJson('[1]'), { ok: true, value: [1] });
    const bad = tryParseJson('{');
    assert.equal(bad.ok, false);
    assert.ok(!bad.ok && bad.error.length > 0);
  });

  test('tryParseJson refuses nesting past its limit before parsing, naming where and the limit', () => {
    assert.equal(HANDLER_FILE_MAX_DEPTH, 128);
    const atLimit = '['.repeat(HANDLER_FILE_MAX_DEPTH) + ']'.repeat(HANDLER_FILE_MAX_DEPTH);
    assert.equal(tryParseJson(atLimit).ok, true);
    const deep = tryParseJson('[{"status": {"formattedMessage": ' + '['.repeat(1_000_000) + ']'.repeat(1_000_000) + '}}]');
    assert.deepEqual(deep, { ok: false, error: '[0].status.formattedMessage[0][0][0]... (122 levels more): '
      + 'nested too deep: more than 128 levels of arrays and objects, the limit (line 1 column 159)' });
    assert.equal(tryParseJson('[[[1]]]', 2).ok, false);
  });
});
