/**
 * Puts a listening unix socket at its path so that the path never names a socket more
 * permissive than 0600, replaces a stale socket file, and refuses a live one.
 *
 * How the race is closed: the socket is bound inside a fresh 0700 folder next to the
 * target (mkdtemp), chmod'ed to 0600 there, and only then hard-linked to the public path.
 * Until the link exists nobody else can reach it (the folder is private); once it exists
 * it is already 0600. link() also fails on an existing path, so a daemon that started at
 * the same moment is never overwritten. No process-wide umask change is needed.
 */
import { chmod, link, lstat, mkdtemp, rename, rmdir, unlink } from 'node:fs/promises';
import { createConnection, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { SupervisorError } from '../core/errors.js';

/** sun_path is 108 bytes on Linux, including the terminating NUL. */
const MAX_SOCKET_PATH_BYTES = 107;
const PROBE_TIMEOUT_MS = 1000;

/** Which inode we put at the path, so that close() removes only our own socket. */
export interface SocketFileIdentity { readonly dev: number; readonly ino: number }

function checkLength(path: string, what: string): void {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    throw new SupervisorError('E_SOCKET_PATH', `${what} ${path} is ${Buffer.byteLength(path)} bytes; unix sockets allow ${MAX_SOCKET_PATH_BYTES}: use a shorter --lib-dir`,
      { path });
  }
}

/** Whether something accepts connections on the socket file: 'live', 'stale' (nobody listens) or another error. */
export function probeSocket(path: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<'live' | 'stale' | 'missing' | NodeJS.ErrnoException> {
  return new Promise((resolve) => {
    const socket = createConnection(path);
    const timer = setTimeout(() => { socket.destroy(); resolve('live'); }, timeoutMs); // a full backlog is a busy server
    socket.once('connect', () => { clearTimeout(timer); socket.destroy(); resolve('live'); });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === 'ECONNREFUSED') resolve('stale');
      else if (err.code === 'ENOENT') resolve('missing');
      else if (err.code === 'EAGAIN') resolve('live');
      else resolve(err);
    });
  });
}

/** Makes sure nothing usable sits at `path`: removes a stale socket, refuses a live one or a non-socket. */
async function clearPath(path: string): Promise<void> {
  const info = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  if (info === null) return;
  if (!info.isSocket()) {
    throw new SupervisorError('E_SOCKET_PATH', `${path} exists and is not a socket; not touching it`, { path });
  }
  const state = await probeSocket(path);
  if (state === 'live') {
    throw new SupervisorError('E_SOCKET_IN_USE', `another supervisor daemon is serving ${path}`, { path });
  }
  if (state === 'stale') await unlink(path).catch(ignoreEnoent); // its daemon died without cleaning up
  else if (state !== 'missing') {
    throw new SupervisorError('E_SOCKET_PATH', `cannot tell whether ${path} is in use: ${state.message}`, { path }, { cause: state });
  }
}

function ignoreEnoent(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => { server.off('listening', onListening); reject(err); };
    const onListening = (): void => { server.off('error', onError); resolve(); };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(path);
  });
}

/** Publishes the bound socket at `path` without ever replacing what is there (link), retrying once after a stale one. */
async function publish(bound: string, path: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await link(bound, path);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP') {
        // This filesystem has no hard links; the path was just cleared, so rename is the next best.
        await rename(bound, path);
        return;
      }
      if (code !== 'EEXIST' || attempt > 0) {
        if (code === 'EEXIST') throw new SupervisorError('E_SOCKET_IN_USE', `another supervisor daemon took ${path} while this one started`, { path });
        throw err;
      }
      await clearPath(path); // someone raced us: refuse if live, replace if stale
    }
  }
}

/**
 * Binds `server` and publishes it at `path` with mode 0600 (see the file comment).
 * Throws E_SOCKET_IN_USE when a live daemon answers there, E_SOCKET_PATH when the path
 * cannot be used. On failure the server is not left listening.
 */
export async function listenPrivately(server: Server, path: string): Promise<SocketFileIdentity> {
  checkLength(path, 'socket path');
  await clearPath(path);
  let dir: string;
  try {
    dir = await mkdtemp(join(dirname(path), '.sock-'));
  } catch (err) {
    throw new SupervisorError('E_SOCKET_PATH', `cannot create the socket in ${dirname(path)}: ${(err as Error).message}`, { path }, { cause: err });
  }
  const bound = join(dir, 's');
  try {
    await chmod(dir, 0o700); // mkdtemp asks for 0700, but a umask could take the owner's bits
    checkLength(bound, 'temporary socket path');
    await listen(server, bound);
    await chmod(bound, 0o600);
    await publish(bound, path);
    const info = await lstat(path);
    return { dev: info.dev, ino: info.ino };
  } catch (err) {
    if (server.listening) server.close();
    throw err;
  } finally {
    await unlink(bound).catch(() => undefined);
    await rmdir(dir).catch(() => undefined);
  }
}

/** Removes the socket file if it is still the one we published (a newer daemon's is left alone). */
export async function removeSocketFile(path: string, identity: SocketFileIdentity): Promise<void> {
  const info = await lstat(path).catch(() => null);
  if (info && info.dev === identity.dev && info.ino === identity.ino) await unlink(path).catch(ignoreEnoent);
}
