import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { entryParts, LinkTable } from '../../../src/supervisor/packages/entry-paths.js';
import { SupervisorError } from '../../../src/core/errors.js';

function code(fn: () => unknown): string {
  try { fn(); } catch (err) { assert.ok(err instanceof SupervisorError); return err.code; }
  return 'none';
}

describe('entryParts', () => {
  test('normal names split into parts; "." and empty segments vanish', () => {
    assert.deepEqual(entryParts('a/b/c.sh'), ['a', 'b', 'c.sh']);
    assert.deepEqual(entryParts('./a//b/'), ['a', 'b']);
    assert.deepEqual(entryParts('./'), []);
    assert.deepEqual(entryParts('a..b/..c'), ['a..b', '..c']);
  });
  test('absolute names and ".." segments are escapes naming the entry', () => {
    for (const bad of ['/etc/passwd', '../evil', 'a/../../evil', 'a/..', '..']) {
      try { entryParts(bad); assert.fail(`accepted ${bad}`); } catch (err) {
        assert.ok(err instanceof SupervisorError);
        assert.equal(err.code, 'E_PACKAGE_ESCAPE');
        assert.equal(err.details['entry'], bad);
        assert.ok(err.message.includes(JSON.stringify(bad)));
      }
    }
  });
  test('a NUL byte is a format error', () => {
    assert.equal(code(() => entryParts('a\0b')), 'E_PACKAGE_FORMAT');
  });
});

describe('LinkTable', () => {
  test('links that stay inside pass, also through other links', () => {
    const t = new LinkTable();
    t.add(['bin', 'run'], '../lib/run.sh');
    t.add(['cur'], 'v1');
    t.add(['v1', 'latest'], '../cur/x');
    t.add(['self'], '.');
    assert.equal(code(() => t.checkSymlink(['bin', 'run'], '../lib/run.sh', 'bin/run')), 'none');
    assert.equal(code(() => t.checkSymlink(['v1', 'latest'], '../cur/x', 'v1/latest')), 'none');
    assert.equal(code(() => t.checkSymlink(['self'], '.', 'self')), 'none');
  });
  test('links that leave lexically or absolutely are escapes', () => {
    const t = new LinkTable();
    assert.equal(code(() => t.checkSymlink(['a', 'l'], '../../etc', 'a/l')), 'E_PACKAGE_ESCAPE');
    assert.equal(code(() => t.checkSymlink(['l'], '/etc/passwd', 'l')), 'E_PACKAGE_ESCAPE');
  });
  test('a chain that only escapes when followed is caught: b -> ., a -> b/..', () => {
    const t = new LinkTable();
    t.add(['b'], '.');
    t.add(['a'], 'b/..');
    assert.equal(code(() => t.checkSymlink(['b'], '.', 'b')), 'none');
    assert.equal(code(() => t.checkSymlink(['a'], 'b/..', 'a')), 'E_PACKAGE_ESCAPE');
  });
  test('a link through an absolute link escapes; a loop is a format error', () => {
    const t = new LinkTable();
    t.add(['abs'], '/');
    t.add(['x'], 'abs/etc');
    assert.equal(code(() => t.checkSymlink(['x'], 'abs/etc', 'x')), 'E_PACKAGE_ESCAPE');
    const loop = new LinkTable();
    loop.add(['p'], 'q');
    loop.add(['q'], 'p');
    assert.equal(code(() => loop.checkSymlink(['p'], 'q', 'p')), 'E_PACKAGE_FORMAT');
  });
  test('an empty target is a format error; crossesLink sees parents', () => {
    const t = new LinkTable();
    assert.equal(code(() => t.checkSymlink(['l'], '', 'l')), 'E_PACKAGE_FORMAT');
    t.add(['d'], 'sub');
    assert.equal(t.crossesLink(['d', 'f']), true);
    assert.equal(t.crossesLink(['e', 'f']), false);
  });
});
