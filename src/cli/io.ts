/** Where a command writes: injected so tests can capture output without spawning a process. */
export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
  readonly isTTY: boolean;
}

/** The real terminal. Lines are written as given; callers add the newline. */
export const processIO: CliIO = {
  stdout: (text) => { process.stdout.write(text); },
  stderr: (text) => { process.stderr.write(text); },
  get isTTY() { return Boolean(process.stdout.isTTY); },
};

/**
 * Exit codes of CONTRACT section 7. `ps` and `status` follow systemctl status: 1 a handler is
 * Failed, 3 one is not running as its goal says, 4 no such handler (cli/health.ts).
 */
export const EXIT = Object.freeze({ ok: 0, notReached: 1, usage: 2, noDaemon: 3, notRunning: 3, unknownHandler: 4 });
