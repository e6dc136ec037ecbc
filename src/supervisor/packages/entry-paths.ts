import { SupervisorError, showValue } from '../../core/errors.js';
import { PACKAGE_ERROR } from './limits.js';

// Linux gives up after 40 nested links (ELOOP); an archive gets no more.
const MAX_LINK_HOPS = 40;

/** Splits an archive entry name into path parts; an absolute name or a `..` segment is an escape. */
export function entryParts(name: string): string[] {
  if (name.includes('\0')) {
    throw new SupervisorError(PACKAGE_ERROR.format, `entry ${showValue(name)} has a NUL byte in its name`, { entry: name });
  }
  if (name.startsWith('/')) {
    throw new SupervisorError(PACKAGE_ERROR.escape, `entry ${showValue(name)} has an absolute path`, { entry: name, value: name });
  }
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) {
    throw new SupervisorError(PACKAGE_ERROR.escape, `entry ${showValue(name)} has a ".." segment that leaves the package root`,
      { entry: name, value: name });
  }
  return parts;
}

/**
 * Every symbolic link an archive declares, so link targets are resolved the way the kernel
 * will (following links inside the archive), not just lexically: `a -> b/..` with `b -> .`
 * leaves the root although each target looks harmless on its own.
 */
export class LinkTable {
  private readonly links = new Map<string, string>();

  /** Records the link at `parts` pointing to `target`. */
  add(parts: readonly string[], target: string): void {
    this.links.set(parts.join('/'), target);
  }

  /** True when some link is declared at exactly `parts`, or at one of its parents. */
  crossesLink(parts: readonly string[]): boolean {
    for (let i = 1; i <= parts.length; i++) if (this.links.has(parts.slice(0, i).join('/'))) return true;
    return false;
  }

  /** Resolves `parts` (relative to the root) through the declared links; null when it leaves the root. */
  resolve(parts: readonly string[], entry: string): string[] | null {
    const pending = [...parts];
    const out: string[] = [];
    let hops = 0;
    while (pending.length > 0) {
      const part = pending.shift() as string;
      if (part === '' || part === '.') continue;
      if (part === '..') {
        if (out.length === 0) return null;
        out.pop();
        continue;
      }
      out.push(part);
      const target = this.links.get(out.join('/'));
      if (target === undefined) continue;
      if (++hops > MAX_LINK_HOPS) {
        throw new SupervisorError(PACKAGE_ERROR.format, `entry ${showValue(entry)}: too many levels of symbolic links`, { entry });
      }
      if (target.startsWith('/')) return null;
      out.pop();
      pending.unshift(...target.split('/'));
    }
    return out;
  }

  /** Throws E_PACKAGE_ESCAPE unless the link at `parts` -> `target` resolves inside the root. */
  checkSymlink(parts: readonly string[], target: string, entry: string): void {
    if (target === '' || target.includes('\0')) {
      throw new SupervisorError(PACKAGE_ERROR.format, `symbolic link ${showValue(entry)} has an invalid target ${showValue(target)}`,
        { entry, value: target });
    }
    const resolved = target.startsWith('/') ? null : this.resolve([...parts.slice(0, -1), ...target.split('/')], entry);
    if (resolved === null) {
      throw new SupervisorError(PACKAGE_ERROR.escape, `symbolic link ${showValue(entry)} points outside the package: ${showValue(target)}`,
        { entry, value: target });
    }
  }
}
