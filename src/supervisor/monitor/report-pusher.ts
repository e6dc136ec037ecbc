/**
 * Sends each new status report to `--report-url` by HTTP PUT, off the reporter's mailbox:
 * only the latest report waits (older unsent ones are dropped), failures back off
 * exponentially on the injected clock, each report gets a bounded number of attempts,
 * and every request has a timeout. It never throws at its caller.
 */
import http from 'node:http';
import https from 'node:https';
import type { Clock, TimerId } from '../../core/clock.js';
import { SupervisorError, showValue } from '../../core/errors.js';
import { backoffDelay } from '../../core/backoff.js';

export interface ReportPusherOptions {
  readonly url: string;
  readonly clock: Clock;
  /** Per request, until the response body has ended; default 10 s. */
  readonly timeoutMs?: number;
  /** Attempts per report before it is dropped; default 5. */
  readonly maxAttempts?: number;
  /** First retry delay, doubled per consecutive failure; default 500 ms. */
  readonly baseDelayMs?: number;
  /** Cap of the retry delay; default 30 s. */
  readonly maxDelayMs?: number;
  /** Told about every failed attempt (E_REPORT_PUSH); must not throw. */
  readonly onError?: (err: SupervisorError) => void;
}

export interface PushStats {
  readonly succeeded: number;
  /** Failed attempts (each retry counts). */
  readonly failures: number;
  /** Reports given up after maxAttempts. */
  readonly dropped: number;
  /** Reports replaced by a newer one before they were delivered. */
  readonly superseded: number;
}

/** Retry delay after `failures` consecutive failures (1 → base, 2 → 2×base, ...), capped. */
export function pushRetryDelay(failures: number, baseDelayMs: number, maxDelayMs: number): number {
  return backoffDelay(failures - 1, { initialMs: baseDelayMs, maxMs: maxDelayMs });
}

/** Validates a report URL at the boundary: http(s) only; the error names the option and the value. */
export function parseReportUrl(value: string): URL {
  let url: URL | undefined;
  try { url = new URL(value); } catch { url = undefined; }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new SupervisorError('E_INVALID_REPORT_URL', `--report-url: expected an http:// or https:// URL (got ${showValue(value)})`, { field: 'reportUrl', value });
  }
  return url;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new SupervisorError('E_INVALID_ARGUMENT', `report pusher: ${name} must be a finite number > 0 (got ${showValue(v)})`, { field: name, value: v });
  }
  return v;
}

interface Job {
  readonly body: string;
  attempts: number;
}

export class ReportPusher {
  readonly #url: URL;
  /** The URL without credentials or query, for messages. */
  readonly #shown: string;
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  readonly #maxAttempts: number;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #onError: ((err: SupervisorError) => void) | undefined;
  #queued: Job | null = null;
  #sending: { readonly abort: () => void; readonly done: Promise<void> } | null = null;
  #timer: TimerId | null = null;
  #consecutiveFailures = 0;
  #stopped: Promise<void> | null = null;
  #stats = { succeeded: 0, failures: 0, dropped: 0, superseded: 0 };

  constructor(opts: ReportPusherOptions) {
    this.#url = parseReportUrl(opts.url);
    this.#shown = `${this.#url.origin}${this.#url.pathname}`;
    this.#clock = opts.clock;
    this.#timeoutMs = positive('timeoutMs', opts.timeoutMs, 10_000);
    this.#maxAttempts = Math.floor(positive('maxAttempts', opts.maxAttempts, 5));
    this.#baseDelayMs = positive('baseDelayMs', opts.baseDelayMs, 500);
    this.#maxDelayMs = positive('maxDelayMs', opts.maxDelayMs, 30_000);
    this.#onError = opts.onError;
  }

  get stats(): PushStats {
    return { ...this.#stats };
  }

  /** True when nothing is queued, being sent or waiting for a retry. */
  get idle(): boolean {
    return this.#queued === null && this.#sending === null && this.#timer === null;
  }

  /** Queues `body` as the report to deliver; returns at once. A report still waiting is replaced. */
  submit(body: string): void {
    if (this.#stopped) return;
    if (this.#queued) this.#stats.superseded += 1;
    // One retry policy: a newer report goes on the current streak of failures (attempt number and delay alike).
    this.#queued = { body, attempts: this.#consecutiveFailures };
    if (!this.#sending && this.#timer === null) this.#sendNext();
  }

  /** Cancels the retry timer and the request in flight; idempotent, resolves once nothing runs. */
  stop(): Promise<void> {
    if (!this.#stopped) {
      if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
      this.#timer = null;
      this.#queued = null;
      const sending = this.#sending;
      sending?.abort();
      this.#stopped = sending ? sending.done : Promise.resolve();
    }
    return this.#stopped;
  }

  #sendNext(): void {
    const job = this.#queued;
    if (!job || this.#stopped) return;
    this.#queued = null;
    job.attempts += 1;
    const request = putJson(this.#url, job.body, this.#timeoutMs, this.#clock);
    const done = request.result.then(
      () => this.#succeeded(),
      (err: unknown) => this.#failed(job, err),
    );
    this.#sending = { abort: request.abort, done };
  }

  #succeeded(): void {
    this.#sending = null;
    this.#stats.succeeded += 1;
    this.#consecutiveFailures = 0;
    this.#sendNext();
  }

  #failed(job: Job, cause: unknown): void {
    this.#sending = null;
    if (this.#stopped) return; // aborted by stop: not a failure of the endpoint
    this.#stats.failures += 1;
    this.#consecutiveFailures += 1;
    const attempt = this.#consecutiveFailures;
    const delay = pushRetryDelay(attempt, this.#baseDelayMs, this.#maxDelayMs);
    let next: string;
    if (this.#queued) {
      this.#stats.superseded += 1;
      next = 'a newer report is queued';
    } else if (attempt < this.#maxAttempts) {
      this.#queued = job;
      next = 'will retry';
    } else {
      this.#stats.dropped += 1;
      next = 'giving up on this report';
    }
    // The streak ends after maxAttempts: attempt number and delay start again together.
    if (attempt >= this.#maxAttempts) this.#consecutiveFailures = 0;
    if (this.#queued) {
      this.#queued.attempts = this.#consecutiveFailures;
      this.#timer = this.#clock.setTimeout(() => { this.#timer = null; this.#sendNext(); }, delay);
    }
    const reason = cause instanceof Error ? cause.message : String(cause);
    this.#report(new SupervisorError('E_REPORT_PUSH',
      `PUT ${this.#shown} failed (attempt ${attempt} of ${this.#maxAttempts}): ${reason}; ${next}${this.#queued ? ` in ${delay} ms` : ''}`,
      { url: this.#shown, attempt, maxAttempts: this.#maxAttempts, status: (cause as { details?: { status?: unknown } })?.details?.status ?? null },
      { cause }));
  }

  #report(err: SupervisorError): void {
    if (!this.#onError) return;
    try {
      this.#onError(err);
    } catch (thrown) {
      queueMicrotask(() => { throw thrown; }); // a broken logger must crash loudly, not vanish
    }
  }
}

/** One PUT of a JSON body; settles once, on the response's end, an error, the timeout or abort(). */
function putJson(url: URL, body: string, timeoutMs: number, clock: Clock): { result: Promise<void>; abort: () => void } {
  const shown = `${url.origin}${url.pathname}`;
  let abort: () => void = () => {};
  const result = new Promise<void>((resolve, reject) => {
    const transport = url.protocol === 'https:' ? https : http;
    // agent: false — a fresh connection per report, so no idle keep-alive socket outlives a stop.
    const req = transport.request(url, {
      method: 'PUT', agent: false,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    });
    const timer = clock.setTimeout(() => req.destroy(new SupervisorError('E_REPORT_PUSH_TIMEOUT',
      `no complete response from ${shown} within ${timeoutMs} ms`, { url: shown, timeoutMs })), timeoutMs);
    let settled = false;
    const settle = (err: unknown): void => {
      if (settled) return;
      settled = true;
      clock.clearTimeout(timer);
      if (err === null) resolve();
      else reject(err);
    };
    abort = () => req.destroy(new SupervisorError('E_REPORT_PUSH_ABORTED', `PUT ${shown} aborted: the reporter is stopping`, { url: shown }));
    req.on('error', (err) => settle(err));
    req.on('close', () => settle(new SupervisorError('E_REPORT_PUSH', `connection to ${shown} closed before a response`, { url: shown })));
    req.on('response', (res) => {
      res.on('error', (err) => settle(err));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        settle(status >= 200 && status < 300 ? null
          : new SupervisorError('E_REPORT_PUSH_STATUS', `${shown} answered HTTP ${status}`, { url: shown, status }));
      });
      res.resume();
    });
    req.end(body);
  });
  return { result, abort };
}
