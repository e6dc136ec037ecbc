/**
 * HandlerEnvironment.json (CONTRACT section 3): tells a handler where its log, config,
 * status and events folders and its heartbeat file are. Same shape as the Azure agent's
 * create_handler_env, including the `eventsFolder_preview` alias the agent keeps for
 * handlers written against the preview telemetry pipeline.
 */
import { isAbsolute } from 'node:path';
import { ValidationError, type Problem } from '../core/errors.js';
import { asRecord, lenientNumber, tryParseJson, decodeText } from './lenient.js';

/** The file name, fixed by the protocol. */
export const HANDLER_ENVIRONMENT_FILE = 'HandlerEnvironment.json';

/** Folders and files a handler is told about; every path is absolute. */
export interface HandlerEnvironment {
  readonly name: string;
  readonly version: string;
  readonly logFolder: string;
  readonly configFolder: string;
  readonly statusFolder: string;
  readonly heartbeatFile: string;
  readonly eventsFolder: string;
}

/** What parseHandlerEnvironment reads back; `version` is the file format version (1.0). */
export interface ParsedHandlerEnvironment {
  readonly name: string;
  readonly version: number;
  readonly logFolder: string;
  readonly configFolder: string;
  readonly statusFolder: string;
  readonly heartbeatFile: string;
  readonly eventsFolder: string | null;
}

const PATH_FIELDS = ['logFolder', 'configFolder', 'statusFolder', 'heartbeatFile', 'eventsFolder'] as const;

/**
 * Renders HandlerEnvironment.json. `version` in the file is the format version, the JSON
 * number 1.0 written literally (handlers compare the text; JSON.stringify would write 1);
 * `e.version` (the handler's own version) is not written: the agent writes only the format version.
 */
export function formatHandlerEnvironment(e: HandlerEnvironment): string {
  const problems: Problem[] = [];
  if (typeof e.name !== 'string' || e.name === '') problems.push({ path: 'name', reason: 'must be a non-empty string', value: e.name });
  for (const field of PATH_FIELDS) {
    const value = e[field];
    if (typeof value !== 'string' || !isAbsolute(value)) {
      problems.push({ path: `handlerEnvironment.${field}`, reason: 'must be an absolute path', value });
    }
  }
  if (problems.length > 0) throw new ValidationError(`${HANDLER_ENVIRONMENT_FILE} for ${String(e.name)}`, problems);
  const env = {
    logFolder: e.logFolder,
    configFolder: e.configFolder,
    statusFolder: e.statusFolder,
    heartbeatFile: e.heartbeatFile,
    eventsFolder: e.eventsFolder,
    eventsFolder_preview: e.eventsFolder,
  };
  return `[{"name":${JSON.stringify(e.name)},"version":1.0,"handlerEnvironment":${JSON.stringify(env)}}]`;
}

/** Reads HandlerEnvironment.json back (tests, round trips, diagnostics); throws ValidationError naming file and field. */
export function parseHandlerEnvironment(text: string | Uint8Array, source: string): ParsedHandlerEnvironment {
  const parsed = tryParseJson(decodeText(text));
  if (!parsed.ok) throw new ValidationError(source, [{ source, path: '(root)', reason: `not valid JSON: ${parsed.error}` }]);
  const doc = parsed.value;
  const first = Array.isArray(doc) ? asRecord(doc[0]) : undefined;
  if (!first) {
    throw new ValidationError(source, [{ source, path: '(root)', reason: 'must be an array whose first element is an object', value: doc }]);
  }
  const problems: Problem[] = [];
  const name = first['name'];
  if (typeof name !== 'string' || name === '') problems.push({ source, path: '[0].name', reason: 'must be a non-empty string', value: name });
  const version = lenientNumber(first['version']);
  if (version === undefined) problems.push({ source, path: '[0].version', reason: 'must be a number', value: first['version'] });
  const env = asRecord(first['handlerEnvironment']);
  if (!env) problems.push({ source, path: '[0].handlerEnvironment', reason: 'must be an object', value: first['handlerEnvironment'] });
  const paths: Record<string, string | null> = {};
  for (const field of PATH_FIELDS) {
    const value = env?.[field];
    if (field === 'eventsFolder' && value === undefined) { paths[field] = null; continue; }
    if (typeof value === 'string' && isAbsolute(value)) paths[field] = value;
    else if (env) problems.push({ source, path: `[0].handlerEnvironment.${field}`, reason: 'must be an absolute path', value });
  }
  if (problems.length > 0) throw new ValidationError(source, problems);
  return Object.freeze({
    name: name as string,
    version: version as number,
    logFolder: paths['logFolder'] as string,
    configFolder: paths['configFolder'] as string,
    statusFolder: paths['statusFolder'] as string,
    heartbeatFile: paths['heartbeatFile'] as string,
    eventsFolder: paths['eventsFolder'] ?? null,
  });
}
