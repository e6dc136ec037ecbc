/**
 * The argv of a Device Update script handler (CONTRACT section 5), built the way the ADU
 * agent's script handler builds it (microsoft/script:1, PrepareScriptArguments): pure, no I/O.
 */
import { isAbsolute, join, relative } from 'node:path';
import { SupervisorError, showValue } from '../../core/errors.js';

/** The script actions this supervisor invokes (ADU's backup/restore are no-ops there too). */
export type ScriptAction = 'is-installed' | 'download' | 'install' | 'apply' | 'cancel';

/** What the script is told for one action. */
export interface ScriptArgsInput {
  readonly action: ScriptAction;
  /** The manifest's `arguments`, already overridden by the goal state's handlerProperties. */
  readonly arguments: string;
  /** The flattened Device Update component (`id`, `name`, ..., `properties.<NAME>`), null when none. */
  readonly component: Readonly<Record<string, string>> | null;
  readonly workFolder: string;
  /** Omitted from argv when null or empty, as ADU does. */
  readonly installedCriteria: string | null;
}

/** ADU's value for a placeholder whose component field is unknown. */
export const NOT_AVAILABLE = 'n/a';

// Placeholder → component field; `--component-prop-val NAME` is handled apart (it eats the next word).
const PLACEHOLDERS: Readonly<Record<string, string>> = Object.freeze({
  '--component-id-val': 'id',
  '--component-name-val': 'name',
  '--component-manufacturer-val': 'manufacturer',
  '--component-model-val': 'model',
  '--component-version-val': 'version',
  '--component-group-val': 'group',
});
const PROP_PLACEHOLDER = '--component-prop-val';

/** The result file of an action: `<work>/action_<action>_aduc_result.json` (CONTRACT section 5). */
export function resultFilePath(workFolder: string, action: ScriptAction): string {
  return join(workFolder, `action_${action}_aduc_result.json`);
}

/**
 * Splits `arguments` on single spaces (empty words dropped, tabs kept: ADU's Split(' ')) and
 * substitutes the `--component-*-val` placeholders; values are passed as single argv words.
 */
export function substitutePlaceholders(text: string, component: Readonly<Record<string, string>> | null): string[] {
  const words = text.split(' ').filter((w) => w !== '');
  const lookup = (key: string): string => {
    const value = component !== null && Object.hasOwn(component, key) ? component[key] : undefined;
    return value ?? NOT_AVAILABLE;
  };
  const out: string[] = [];
  for (let i = 0; i < words.length; i += 1) {
    const word = words[i] as string;
    const field = Object.hasOwn(PLACEHOLDERS, word) ? PLACEHOLDERS[word] : undefined;
    if (field !== undefined) out.push(lookup(field));
    else if (word === PROP_PLACEHOLDER) {
      const name = words[i + 1];
      // ADU reads `properties.<NAME>` by dotted path; a trailing placeholder without NAME is n/a.
      out.push(name === undefined ? NOT_AVAILABLE : lookup(`properties.${name}`));
      i += 1;
    } else out.push(word);
  }
  return out;
}

/** The full argv after the script path: --action-X, arguments, --work-folder, --result-file, [--installed-criteria]. */
export function buildScriptArgs(input: ScriptArgsInput): string[] {
  checkNoNul('arguments', input.arguments);
  checkNoNul('installedCriteria', input.installedCriteria ?? '');
  checkNoNul('workFolder', input.workFolder);
  for (const [key, value] of Object.entries(input.component ?? {})) checkNoNul(`component.${key}`, value);
  const args = [`--action-${input.action}`, ...substitutePlaceholders(input.arguments, input.component),
    '--work-folder', input.workFolder, '--result-file', resultFilePath(input.workFolder, input.action)];
  if (input.installedCriteria !== null && input.installedCriteria !== '') args.push('--installed-criteria', input.installedCriteria);
  return args;
}

/** The script's absolute path inside the handler dir; refuses a name that would leave it. */
export function scriptPath(handlerDir: string, scriptFileName: string): string {
  const path = join(handlerDir, scriptFileName);
  const rel = relative(handlerDir, path);
  if (scriptFileName === '' || rel === '' || rel === '..' || rel.startsWith('../') || isAbsolute(rel)) {
    throw new SupervisorError('E_SCRIPT_PATH',
      `scriptFileName must name a file inside the handler dir ${handlerDir} (got ${showValue(scriptFileName)})`,
      { field: 'scriptFileName', value: scriptFileName, handlerDir });
  }
  return path;
}

// An argv word cannot carry NUL: say which field held it instead of failing inside spawn.
function checkNoNul(field: string, value: string): void {
  if (value.includes('\0')) {
    throw new SupervisorError('E_SCRIPT_ARGS', `script handler ${field} must not contain a NUL character (got ${showValue(value)})`,
      { field, value });
  }
}
