/** Records every unhandledRejection of the test file, so a last test can assert there were none. */
import { after } from 'node:test';

export function recordUnhandledRejections(): unknown[] {
  const seen: unknown[] = [];
  const listener = (reason: unknown): void => { seen.push(reason); };
  process.on('unhandledRejection', listener);
  after(() => { process.off('unhandledRejection', listener); });
  return seen;
}
