/** A real HTTP server on 127.0.0.1 (port 0) for package download tests. */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Route = (req: IncomingMessage, res: ServerResponse) => void;

export interface TestServer {
  /** `http://127.0.0.1:<port>` */
  readonly base: string;
  /** Paths requested so far, in order. */
  readonly hits: string[];
  /** Adds or replaces the handler of one path. */
  route(path: string, handler: Route): void;
  /** Stops listening and drops every connection, stalled ones included. */
  close(): Promise<void>;
}

/** Serves `body` with a Content-Length. */
export function bytes(body: Buffer, status = 200): Route {
  return (_req, res) => { res.writeHead(status, { 'content-length': body.length }); res.end(body); };
}

/** Redirects to `location`. */
export function redirect(location: string, status = 302): Route {
  return (_req, res) => { res.writeHead(status, { location }); res.end(); };
}

/** Starts a server with no routes (every path 404s until routed). */
export async function startServer(): Promise<TestServer> {
  const routes = new Map<string, Route>();
  const hits: string[] = [];
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] as string;
    hits.push(path);
    const handler = routes.get(path);
    if (handler) handler(req, res);
    else { res.writeHead(404, { 'content-type': 'text/plain' }); res.end('not found'); }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    hits,
    route: (path, handler) => { routes.set(path, handler); },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
