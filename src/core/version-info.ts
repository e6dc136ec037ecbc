/** The supervisor's own version, read once from package.json (same relative path from src/ and dist/). */
import { readFileSync } from 'node:fs';

let cached: string | null = null;

export function supervisorVersion(): string {
  if (cached === null) {
    try {
      cached = String((JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown }).version ?? '0.0.0');
    } catch {
      cached = '0.0.0';
    }
  }
  return cached;
}
