import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  NOT_AVAILABLE, buildScriptArgs, resultFilePath, scriptPath, substitutePlaceholders, type ScriptArgsInput,
} from '../../../src/supervisor/script/script-args.js';

const component = Object.freeze({
  id: 'comp-1', name: 'Motor Controller', manufacturer: 'Contoso Ltd', model: 'MC-9', version: '2.0', group: 'motors',
  'properties.path': '/opt/motor firmware', 'properties.nested.key': 'deep',
});

describe('substitutePlaceholders', () => {
  test('every placeholder takes its component field; other words pass through', () => {
    const args = substitutePlaceholders(
      '--id --component-id-val --name --component-name-val --mf --component-manufacturer-val --model --component-model-val '
      + '--ver --component-version-val --grp --component-group-val --path --component-prop-val path', component);
    assert.deepEqual(args, ['--id', 'comp-1', '--name', 'Motor Controller', '--mf', 'Contoso Ltd', '--model', 'MC-9',
      '--ver', '2.0', '--grp', 'motors', '--path', '/opt/motor firmware']);
  });

  test('no component: every placeholder is n/a, and --component-prop-val eats its NAME', () => {
    const args = substitutePlaceholders('--component-id-val --component-prop-val path tail', null);
    assert.deepEqual(args, [NOT_AVAILABLE, NOT_AVAILABLE, 'tail']);
    assert.equal(NOT_AVAILABLE, 'n/a');
  });

  test('an unknown field or property is n/a; a trailing --component-prop-val without NAME is n/a', () => {
    assert.deepEqual(substitutePlaceholders('--component-prop-val missing --component-prop-val', { id: 'x' }), ['n/a', 'n/a']);
    assert.deepEqual(substitutePlaceholders('--component-group-val', { id: 'x' }), ['n/a']);
    // Nested properties were flattened with dots by the goal-state reader; ADU reads them by dotted path.
    assert.deepEqual(substitutePlaceholders('--component-prop-val nested.key', component), ['deep']);
  });

  test('split on single spaces as ADU does: runs of spaces drop empty words, tabs stay inside a word', () => {
    assert.deepEqual(substitutePlaceholders('  a   b\tc  ', null), ['a', 'b\tc']);
    assert.deepEqual(substitutePlaceholders('', null), []);
  });

  test('inherited object keys are not placeholders or fields', () => {
    assert.deepEqual(substitutePlaceholders('toString --component-prop-val constructor', {}), ['toString', 'n/a']);
  });
});

describe('buildScriptArgs', () => {
  test('order: --action-X, arguments, --work-folder, --result-file, --installed-criteria', () => {
    const args = buildScriptArgs({ action: 'is-installed', arguments: '--model --component-model-val', component,
      workFolder: '/lib/work/h', installedCriteria: '1.2.3' });
    assert.deepEqual(args, ['--action-is-installed', '--model', 'MC-9', '--work-folder', '/lib/work/h',
      '--result-file', '/lib/work/h/action_is-installed_aduc_result.json', '--installed-criteria', '1.2.3']);
  });

  test('--installed-criteria is left out when null or empty', () => {
    for (const installedCriteria of [null, '']) {
      const args = buildScriptArgs({ action: 'apply', arguments: '', component: null, workFolder: '/w', installedCriteria });
      assert.deepEqual(args, ['--action-apply', '--work-folder', '/w', '--result-file', '/w/action_apply_aduc_result.json']);
    }
  });

  test('a NUL anywhere is refused naming the field and the value', () => {
    const base: ScriptArgsInput = { action: 'install', arguments: '', component: null, workFolder: '/w', installedCriteria: null };
    const cases: Array<[ScriptArgsInput, string]> = [
      [{ ...base, arguments: 'a\0b' }, 'arguments'],
      [{ ...base, installedCriteria: 'x\0' }, 'installedCriteria'],
      [{ ...base, component: { model: 'M\0' } }, 'component.model'],
    ];
    for (const [input, field] of cases) {
      assert.throws(() => buildScriptArgs(input), (e: Error & { code?: string; details?: Record<string, unknown> }) =>
        e.code === 'E_SCRIPT_ARGS' && e.details?.['field'] === field && e.message.includes(field) && e.message.includes('\\u0000'));
    }
  });
});

describe('paths', () => {
  test('the result file of each action follows CONTRACT section 5', () => {
    assert.equal(resultFilePath('/w', 'download'), '/w/action_download_aduc_result.json');
    assert.equal(resultFilePath('/w', 'cancel'), '/w/action_cancel_aduc_result.json');
  });

  test('scriptPath stays inside the handler dir', () => {
    assert.equal(scriptPath('/lib/h-1.0', 'bin/run.sh'), '/lib/h-1.0/bin/run.sh');
    assert.equal(scriptPath('/lib/h-1.0', '..hidden.sh'), '/lib/h-1.0/..hidden.sh');
    for (const bad of ['../x.sh', 'a/../../x.sh', '', '.']) {
      assert.throws(() => scriptPath('/lib/h-1.0', bad), (e: Error & { code?: string }) =>
        e.code === 'E_SCRIPT_PATH' && e.message.includes(JSON.stringify(bad)));
    }
  });
});
