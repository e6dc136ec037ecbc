import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { colorStatus, colorWanted } from '../../src/cli/format.js';

describe('small things users expect', () => {
  test('--version and -V print the package version and exit 0', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = await runCli([flag]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${version}\n`);
    }
  });

  test('colour only on a TTY, and never with NO_COLOR set (https://no-color.org)', () => {
    assert.equal(colorWanted(true, {}), true);
    assert.equal(colorWanted(false, {}), false, 'a pipe or a file gets no colour');
    assert.equal(colorWanted(true, { NO_COLOR: '1' }), false);
    assert.equal(colorWanted(true, { NO_COLOR: '' }), true, 'an empty NO_COLOR is not set');
    assert.equal(colorStatus('Failed', 'Failed', false), 'Failed');
  });

  test('pack and validate offer no --lib-dir/--log-dir (they touch none); report takes --json', async () => {
    for (const cmd of ['pack', 'validate']) {
      const help = await runCli([cmd, '--help']);
      assert.equal(help.code, 0);
      assert.doesNotMatch(help.stdout, /--lib-dir|--log-dir/, `${cmd} --help`);
    }
    const lib = mkdtempSync(join(tmpdir(), 'exts-report-'));
    try {
      const r = await runCli(['report', '--json', '--lib-dir', lib]);
      assert.doesNotMatch(r.stderr, /unknown option/);
      assert.equal(r.code, 3, 'no report written yet, no daemon');
      assert.match(r.stderr, /no status report has been written/);
    } finally {
      rmSync(lib, { recursive: true, force: true });
    }
  });
});
