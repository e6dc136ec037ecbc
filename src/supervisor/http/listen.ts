/**
 * Where the daemon's HTTP server listens (`--http-listen`, alias `--metrics-listen`): a bare port
 * is loopback, so nothing is exposed by accident; any other address needs a bearer token.
 */
import { isIP } from 'node:net';
import { SupervisorError } from '../../core/errors.js';

export const LISTEN_FLAG = '--http-listen';
export const ALIAS_FLAG = '--metrics-listen';
export const TOKEN_FLAG = '--http-token-file';

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

function usage(flag: string, value: string, reason: string): SupervisorError {
  return new SupervisorError('E_USAGE',
    `${flag}: ${reason} (got ${JSON.stringify(value)}); expected PORT, ADDR:PORT or [IPv6]:PORT`, { flag, value });
}

function parsePort(flag: string, value: string, text: string): number {
  if (!/^\d{1,5}$/.test(text)) throw usage(flag, value, `port ${JSON.stringify(text)} is not a number`);
  const port = Number(text);
  if (port < 1 || port > 65535) throw usage(flag, value, `port ${port} is out of range 1-65535`);
  return port;
}

/** Parses 'PORT' (loopback), 'ADDR:PORT' or '[IPv6]:PORT'; E_USAGE naming the flag and value otherwise. */
export function parseListen(value: string, flag = LISTEN_FLAG): ListenAddress {
  if (/^\d+$/.test(value)) return { host: '127.0.0.1', port: parsePort(flag, value, value) };
  const bracketed = /^\[([^\]]*)\]:([^:]*)$/.exec(value);
  if (bracketed) {
    const [, host = '', port = ''] = bracketed;
    if (isIP(host) !== 6) throw usage(flag, value, `${JSON.stringify(host)} is not an IPv6 address`);
    return { host, port: parsePort(flag, value, port) };
  }
  if (value.startsWith('[')) throw usage(flag, value, 'no port after the bracketed IPv6 address, as in [::1]:8477');
  const colon = value.lastIndexOf(':');
  if (colon < 0) throw usage(flag, value, 'no port');
  const host = value.slice(0, colon);
  const port = value.slice(colon + 1);
  if (host === '') throw usage(flag, value, 'no address before the port (use 0.0.0.0:PORT to listen on every interface)');
  if (host.includes(':')) throw usage(flag, value, 'an IPv6 address needs brackets, as in [::1]:8477');
  if (isIP(host) !== 4 && !HOSTNAME.test(host)) throw usage(flag, value, `${JSON.stringify(host)} is not an IPv4 address or host name`);
  return { host, port: parsePort(flag, value, port) };
}

/** True for an address only this host can reach: 127.0.0.0/8, ::1 (also IPv4-mapped), `localhost`. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/** `host:port`, IPv6 in brackets, as a URL wants it. */
export function showAddress(host: string, port: number): string {
  return `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

/**
 * The address from `--http-listen` and its alias `--metrics-listen` (one server: both given must
 * agree), or null when neither is. A non-loopback address without a token is refused: every
 * route then answers anyone on the network.
 */
export function resolveListen(flags: { readonly httpListen?: string | undefined; readonly metricsListen?: string | undefined },
  hasToken: boolean): ListenAddress | null {
  const { httpListen, metricsListen } = flags;
  if (httpListen !== undefined && metricsListen !== undefined && httpListen !== metricsListen) {
    throw new SupervisorError('E_USAGE', `${LISTEN_FLAG} ${JSON.stringify(httpListen)} and ${ALIAS_FLAG} ${JSON.stringify(metricsListen)} differ: `
      + `${ALIAS_FLAG} is an alias of ${LISTEN_FLAG} (one server); give one`, { flag: LISTEN_FLAG, value: httpListen, alias: metricsListen });
  }
  const flag = httpListen !== undefined ? LISTEN_FLAG : ALIAS_FLAG;
  const value = httpListen ?? metricsListen;
  if (value === undefined) {
    if (hasToken) throw new SupervisorError('E_USAGE', `${TOKEN_FLAG} needs ${LISTEN_FLAG}: there is no HTTP server to protect`, { flag: TOKEN_FLAG });
    return null;
  }
  const address = parseListen(value, flag);
  if (!isLoopback(address.host) && !hasToken) {
    throw new SupervisorError('E_USAGE', `${flag} ${value}: ${address.host} is not a loopback address; listening there needs `
      + `${TOKEN_FLAG} FILE (a bearer token every request must carry), or listen on 127.0.0.1`, { flag, value });
  }
  return address;
}
