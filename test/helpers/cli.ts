/** Runs the real `supervisor` executable (bin/ → dist/, built by `npm test` before the tests). */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../bin/supervisor.cjs', import.meta.url));

export interface CliResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

export function startCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const done = new Promise<CliResult>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

export function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return startCli(args, env).done;
}

/**
 * A command that asks the daemon, asked again while a loaded machine keeps the daemon from
 * answering within the CLI's own wait (`got no answer from the daemon`), up to `deadlineMs`.
 */
export async function askDaemon(args: readonly string[], deadlineMs = 60_000): Promise<CliResult> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const r = await runCli(args);
    if (!/got no answer from the daemon/.test(r.stderr) || Date.now() > until) return r;
  }
}
