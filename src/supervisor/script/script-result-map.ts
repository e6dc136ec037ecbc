/**
 * How one script action's ending maps to a Device Update result (CONTRACT section 5; the ADU
 * agent's ScriptHandler_PerformAction): pure functions over the exit and the result file text.
 */
import { constants } from 'node:os';
import { parseScriptResult } from '../../protocol/script-result.js';
import { commandFailureCode, ErrorCodes } from '../lifecycle/error-codes.js';
import type { CommandName } from '../lifecycle/steps.js';
import type { RunResult } from '../process/run-spec.js';
import type { ScriptAction } from './script-args.js';

/** ADU extended result codes of the script handler component (facility 3, component 05). */
export const ScriptCodes = Object.freeze({
  /** ADUC_ERC_SCRIPT_HANDLER_CHILD_PROCESS_FAILURE_EXITCODE: this + the exit code. */
  childProcessExit: 0x30501000,
  /** ADUC_ERC_SCRIPT_HANDLER_INSTALL_FAILURE_PARSE_RESULT_FILE: missing or malformed result file. */
  resultFile: 0x30500205,
  /** ..._SCRIPT_RESULT_EXTENDEDRESULTCODE_ZERO: a failure that gave no extended code. */
  extendedResultCodeZero: 0x30500206,
  /** ADUC_ERC_SCRIPT_HANDLER_MISSING_PRIMARY_SCRIPT_FILE. */
  missingScriptFile: 0x30500004,
  /** ADUC_ERC_SCRIPT_HANDLER_CREATE_SANDBOX_FAILURE: the work folder could not be made. */
  sandbox: 0x30500006,
  /** ADUC_ERC_SCRIPT_HANDLER_INVALID_COMPONENTS_DATA: a component value that cannot be an argument. */
  invalidComponent: 0x30500007,
});

/** ADUC_Result codes the supervisor reads or reports itself. */
export const ResultCodes = Object.freeze({
  failure: 0,
  /** ADUC_GeneralResult_Success: reported when nothing had to run (uninstall). */
  success: 1,
  cancelSuccess: 800,
  isInstalledInstalled: 900,
  isInstalledNotInstalled: 901,
});

export type RestartRequest = 'reboot' | 'agentRestart' | null;

const REBOOT_CODES: ReadonlySet<number> = new Set([605, 606, 705, 706]);
const AGENT_RESTART_CODES: ReadonlySet<number> = new Set([607, 608, 707, 708]);

/** 605/606/705/706 ask for a reboot, 607/608/707/708 for an agent restart (recorded, never acted on). */
export function restartRequestOf(resultCode: number): RestartRequest {
  if (REBOOT_CODES.has(resultCode)) return 'reboot';
  if (AGENT_RESTART_CODES.has(resultCode)) return 'agentRestart';
  return null;
}

/** Extended codes as ADU logs them: 0x + 8 upper-case hex digits (negative values as their 32-bit pattern). */
export function formatCode(code: number): string {
  const n = Number.isSafeInteger(code) && code >= 0 ? code : (code | 0) >>> 0;
  return `0x${n.toString(16).toUpperCase().padStart(8, '0')}`;
}

/** One action's result in ADU terms, plus what the operation reports. */
export interface ActionOutcome {
  readonly succeeded: boolean;
  /** 0 on success, else the OperationResult code: the extended result code, 1011 on timeout. */
  readonly code: number;
  readonly resultCode: number;
  readonly extendedResultCode: number;
  readonly resultDetails: string;
  /** One line on why, for the operation message. */
  readonly reason: string;
  readonly request: RestartRequest;
  /** What decided it: the result file, the way the process ended, or a setup failure before it ran. */
  readonly decidedBy: 'resultFile' | 'exit' | 'timedOut' | 'canceled' | 'spawnFailed' | 'setup';
}

export type ProcessEnd = Pick<RunResult, 'outcome' | 'exitCode' | 'signal' | 'error' | 'memoryLimitKill'>;

/** The result file as the runner found it (read only after exit 0). */
export type ResultFileContent =
  | { readonly kind: 'missing' }
  | { readonly kind: 'text'; readonly text: string | Uint8Array }
  | { readonly kind: 'unreadable'; readonly reason: string };

function failed(code: number, reason: string, decidedBy: ActionOutcome['decidedBy']): ActionOutcome {
  return { succeeded: false, code, resultCode: ResultCodes.failure, extendedResultCode: code, resultDetails: '', reason, request: null, decidedBy };
}

/** A process-level exit status: its code, or 128 + the signal number when a signal ended it (the shell's rule). */
export function exitStatusOf(end: Pick<ProcessEnd, 'exitCode' | 'signal'>): number {
  if (end.exitCode !== null) return end.exitCode;
  const signo = end.signal !== null ? constants.signals[end.signal] : undefined;
  return 128 + (signo ?? 0);
}

/** A failure found before the action could run (no script, no work folder, a bad argument). */
export function setupFailure(code: number, reason: string): ActionOutcome {
  return failed(code, reason, 'setup');
}

/** Maps how the process ended (timeoutMs: the operation's, for the message); null when it exited 0 and the result file decides. */
export function mapProcessEnd(op: CommandName, end: ProcessEnd, timeoutMs: number): ActionOutcome | null {
  switch (end.outcome) {
    case 'exited': {
      if (end.exitCode === 0) return null;
      const status = exitStatusOf(end);
      const code = ScriptCodes.childProcessExit + status;
      const how = end.exitCode !== null ? `exit code ${end.exitCode}` : `killed by ${end.signal ?? 'a signal'}`;
      if (end.memoryLimitKill !== undefined) {
        // As command-form handlers: the operation fails with 1013 (set only for a failed run whose group
        // counted an OOM kill); ADU's extendedResultCode stays what the exit status says.
        return { succeeded: false, code: ErrorCodes.memoryLimit, resultCode: ResultCodes.failure, extendedResultCode: code, resultDetails: '',
          reason: `killed by the kernel: memory limit ${end.memoryLimitKill} MB reached (${how}, extendedResultCode ${formatCode(code)}; result file not read)`,
          request: null, decidedBy: 'exit' };
      }
      return failed(code, `${how} (extendedResultCode ${formatCode(code)}; result file not read)`, 'exit');
    }
    case 'timedOut':
      return failed(ErrorCodes.timeout, `timed out after ${timeoutMs / 1000} s and was ended (SIGTERM, then SIGKILL)`, 'timedOut');
    case 'canceled':
      return failed(commandFailureCode(op), 'canceled: the supervisor is stopping', 'canceled');
    case 'spawnFailed': {
      // As a shell would report it: 126 found but not executable, 127 not found (a bad #! interpreter too).
      const status = /EACCES|EPERM/.test(end.error ?? '') ? 126 : 127;
      const code = ScriptCodes.childProcessExit + status;
      return failed(code, `could not start (extendedResultCode ${formatCode(code)}): ${end.error ?? 'unknown error'}`, 'spawnFailed');
    }
  }
}

/** Maps the result file of an action that exited 0: success is resultCode > 0. */
export function mapResultFile(action: ScriptAction, source: string, content: ResultFileContent): ActionOutcome {
  if (content.kind === 'missing') {
    // ADU's own Cancel always succeeds; a cancel script that just exits 0 has done its best.
    if (action === 'cancel') {
      return { succeeded: true, code: 0, resultCode: ResultCodes.cancelSuccess, extendedResultCode: 0, resultDetails: '',
        reason: 'exited 0 without a result file (counted as success for cancel)', request: null, decidedBy: 'resultFile' };
    }
    return failed(ScriptCodes.resultFile, `exited 0 but wrote no result file ${source} (extendedResultCode ${formatCode(ScriptCodes.resultFile)})`, 'resultFile');
  }
  if (content.kind === 'unreadable') {
    return failed(ScriptCodes.resultFile, `cannot read result file ${source}: ${content.reason} (extendedResultCode ${formatCode(ScriptCodes.resultFile)})`, 'resultFile');
  }
  const parsed = parseScriptResult(content.text, source);
  if (!parsed.ok) return failed(ScriptCodes.resultFile, `${parsed.problem} (extendedResultCode ${formatCode(ScriptCodes.resultFile)})`, 'resultFile');
  const { resultCode, extendedResultCode, resultDetails } = parsed.result;
  const request = restartRequestOf(resultCode);
  if (resultCode > 0) {
    return { succeeded: true, code: 0, resultCode, extendedResultCode, resultDetails, request, decidedBy: 'resultFile',
      reason: `resultCode ${resultCode}${extendedResultCode !== 0 ? `, extendedResultCode ${formatCode(extendedResultCode)}` : ''}` };
  }
  const code = extendedResultCode !== 0 ? extendedResultCode : ScriptCodes.extendedResultCodeZero;
  const why = extendedResultCode !== 0 ? '' : ' (the script reported failure with extendedResultCode 0)';
  return { succeeded: false, code, resultCode, extendedResultCode: code, resultDetails, request, decidedBy: 'resultFile',
    reason: `resultCode ${resultCode}, extendedResultCode ${formatCode(code)}${why}` };
}
