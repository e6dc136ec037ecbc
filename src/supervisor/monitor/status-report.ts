/**
 * The status report document, `<lib>/status-report.json` (CONTRACT section 6), built from
 * the snapshot's rows. Pure: the reporter actor decides when to write and push it.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { HandlerStatusValue } from '../lifecycle/events.js';
import type { LifecycleState } from '../lifecycle/record.js';
import type { HandlerRow } from './types.js';

export const REPORT_FILE_NAME = 'status-report.json';
export const REPORT_FORMAT_VERSION = '1.0';

/** The supervisor's own line in the report. */
export interface SupervisorInfo {
  readonly version: string;
  readonly status: string;
  readonly message: string;
}

export interface ReportSubstatus {
  readonly name: string | null;
  readonly status: string;
  readonly code: number;
  readonly message: string;
}

export interface ReportExtension {
  readonly name: string;
  readonly sequenceNumber: number;
  readonly status: string;
  readonly code: number;
  readonly message: string;
  readonly substatus: readonly ReportSubstatus[];
}

export interface ReportHandler {
  readonly name: string;
  /** null while nothing is installed (a handler the goal wants but that failed before its install). */
  readonly version: string | null;
  readonly state: LifecycleState;
  readonly status: HandlerStatusValue;
  readonly code: number;
  readonly message: string;
  readonly extensions: readonly ReportExtension[];
}

export interface StatusReport {
  readonly version: typeof REPORT_FORMAT_VERSION;
  readonly timestampUTC: string;
  readonly supervisor: SupervisorInfo;
  readonly handlers: readonly ReportHandler[];
}

/** Where the report lives in a lib dir. */
export function reportPath(libDir: string): string {
  return join(libDir, REPORT_FILE_NAME);
}

/** The agent's timestamp form: ISO 8601 UTC to the second ("2024-05-01T12:00:00Z"). */
export function utcTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Builds the report with exactly the contract's keys, in its order; row fields beyond them (pids, cpu...) stay out. */
export function buildReport(rows: readonly HandlerRow[], supervisor: SupervisorInfo, now: number): StatusReport {
  return {
    version: REPORT_FORMAT_VERSION,
    timestampUTC: utcTimestamp(now),
    supervisor: { version: supervisor.version, status: supervisor.status, message: supervisor.message },
    handlers: rows.map((r) => ({
      name: r.name,
      version: r.version,
      state: r.state,
      status: r.status,
      code: r.code,
      message: r.message,
      extensions: r.extensions.map((x) => ({
        name: x.name,
        sequenceNumber: x.sequenceNumber,
        status: x.status,
        code: x.code,
        message: x.message,
        substatus: x.substatus.map((s) => ({ name: s.name, status: s.status, code: s.code, message: s.message })),
      })),
    })),
  };
}

/** The report's content without its timestamp: equal keys mean there is nothing new to write or push. */
export function reportContentKey(report: StatusReport): string {
  return serializeReport(report).key;
}

/**
 * The report's JSON (what JSON.stringify gives, key for key) and its content key, from one
 * serialisation of the handlers: the reporter compared a stringify of the content and then
 * wrote a second one of the whole document, each O(N) once a second while anything changes.
 */
export function serializeReport(report: StatusReport): { readonly key: string; readonly json: string } {
  const supervisor = JSON.stringify(report.supervisor);
  const handlers = JSON.stringify(report.handlers);
  return {
    // A digest, not the text: the reporter keeps the last key for as long as the daemon runs (two
    // with a report URL), ~0.5 MB each at 1000 handlers against the 100 MB RSS target (issue 20).
    key: createHash('sha256').update(report.version).update('\n').update(supervisor).update('\n').update(handlers).digest('base64'),
    json: `{"version":${JSON.stringify(report.version)},"timestampUTC":${JSON.stringify(report.timestampUTC)},"supervisor":${supervisor},"handlers":${handlers}}`,
  };
}
