/**
 * The messages between the supervisor and its spawner process (one JSON object per line, on the
 * spawner's stdin and stdout). Shared by both ends; imports nothing, so the spawner stays small.
 */

/** Start one command: output files opened by the spawner, environment on top of the spawner's own. */
export interface SpawnRequest {
  readonly t: 'spawn';
  readonly id: number;
  readonly file: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** Added to the spawner's environment (the supervisor's, as it was when the spawner started). */
  readonly env: Readonly<Record<string, string>>;
  readonly stdoutFile: string;
  readonly stderrFile: string;
  /** How the output files are bounded and rotated (defaults in output-sink.ts). */
  readonly output?: { readonly maxBytes?: number; readonly keep?: number };
}

/** Sent when no command has run for a while: the spawner exits if it drains no output, or says why it stays. */
export interface RetireRequest {
  readonly t: 'retire';
}

export type SpawnerRequest = SpawnRequest | RetireRequest;

export type SpawnerReply =
  | { readonly t: 'started'; readonly id: number; readonly pid: number }
  | { readonly t: 'failed'; readonly id: number; readonly error: string }
  | { readonly t: 'exit'; readonly id: number; readonly code: number | null; readonly signal: string | null }
  /** Its stdin ended while command output pipes are open: it stays to drain them, then exits. */
  | { readonly t: 'linger'; readonly id: 0; readonly pipes: number }
  /** The answer to a retire: it exits now, or it stays (commands running or output pipes open) and serves on. */
  | { readonly t: 'retiring'; readonly id: 0 }
  | { readonly t: 'staying'; readonly id: 0; readonly running: number; readonly pipes: number };

/** The longest request or reply line either side accepts (a request carries a command's environment). */
export const MAX_SPAWNER_LINE_BYTES = 64 * 1024 * 1024;
