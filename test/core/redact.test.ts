import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MASK, maskValues, protectedValues, redactUrl, redactUrls, scrubText } from '../../src/core/redact.js';

describe('redactUrl', () => {
  test('keeps scheme, host, path and query keys; hides query values, fragment and password', () => {
    assert.equal(redactUrl('https://acct.blob.core.windows.net/c/goal.json?sv=2020-08-04&sig=abc%2Fdef'),
      `https://acct.blob.core.windows.net/c/goal.json?sv=${MASK}&sig=${MASK}`);
    assert.equal(redactUrl('http://user:pa55@127.0.0.1:8080/p?token'), `http://user:${MASK}@127.0.0.1:8080/p?${MASK}`);
    assert.equal(redactUrl('http://h/p#frag'), `http://h/p#${MASK}`);
    assert.equal(redactUrl('http://h/p?a=1&&b='), `http://h/p?a=${MASK}&&b=${MASK}`);
  });

  test('leaves a URL without credentials and a plain path as they are', () => {
    for (const u of ['http://127.0.0.1:8080/goal.json', 'file:///srv/pkgs/a.zip', '/etc/ext-supervisor/goal-state.json', 'http://user@h/p']) {
      assert.equal(redactUrl(u), u);
    }
  });
});

describe('redactUrls', () => {
  test('redacts every URL in a text, whatever surrounds it', () => {
    const text = 'cannot fetch goal state http://127.0.0.1:9/g.json?sig=SECRET: HTTP 403\n  (uri "https://h/p.zip?se=1&sig=SECRET2")';
    const out = redactUrls(text);
    assert.ok(!out.includes('SECRET'), out);
    assert.match(out, /http:\/\/127\.0\.0\.1:9\/g\.json\?sig=\*\*\*/);
    assert.match(out, /https:\/\/h\/p\.zip\?se=\*\*\*&sig=\*\*\*/);
  });
});

describe('protectedValues and maskValues', () => {
  const secret = 'p4ss"w\\rd-0123456789';
  const values = protectedValues([secret, { nested: { list: ['no', 'tok-abcdef'] } }, null, 42]);

  test('collects string leaves of 4 characters or more, with their JSON-escaped forms, longest first', () => {
    assert.ok(values.includes(secret));
    assert.ok(values.includes(JSON.stringify(secret).slice(1, -1)));
    assert.ok(values.includes('tok-abcdef'));
    assert.ok(!values.includes('no'));
    assert.deepEqual([...values].sort((a, b) => b.length - a.length), values);
  });

  test('masks every occurrence, raw and JSON-escaped', () => {
    const text = `got ${secret} and {"protectedSettings":${JSON.stringify(secret)}} and tok-abcdef`;
    const out = maskValues(text, values);
    assert.equal(out, `got ${MASK} and {"protectedSettings":"${MASK}"} and ${MASK}`);
  });

  test('masks a value cut by the truncation mark, at either side', () => {
    assert.equal(maskValues(`[stdout]\n...${secret.slice(7)} rest`, values), `[stdout]\n...${MASK} rest`);
    assert.equal(maskValues(`(got "${secret.slice(0, 9)}...)`, values), `(got "${MASK}...)`);
    assert.equal(maskValues(`status ${secret.slice(0, 6)} ... [TRUNCATED]`, values), `status ${MASK} ... [TRUNCATED]`);
    assert.equal(maskValues('...', values), '...');
  });

  test('leaves text without the values alone, and does nothing without values', () => {
    assert.equal(maskValues('nothing to see... here', values), 'nothing to see... here');
    assert.equal(maskValues(secret, []), secret);
  });

  test('scrubText masks values, then redacts URLs', () => {
    assert.equal(scrubText(`fetched http://h/p?sig=x (${secret})`, values), `fetched http://h/p?sig=${MASK} (${MASK})`);
  });
});
