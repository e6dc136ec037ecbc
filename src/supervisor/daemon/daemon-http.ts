/**
 * The daemon's HTTP server, put together: its routes answer with the very functions the control
 * socket answers `ps` and `status` with (the same JSON as `ps --json` and `status NAME --json`),
 * and its event feed is poked by the runtime's events.
 */
import type { RawJson } from '../../core/raw-json.js';
import { systemClock } from '../../core/clock.js';
import { EventStreams } from '../http/event-stream.js';
import { startHttpServer, type MetricsSource } from '../http/http-server.js';
import type { ListenAddress } from '../http/listen.js';
import { RowFeed } from '../http/row-feed.js';
import { WEB_DIR } from '../http/static-files.js';
import type { Runtime } from './runtime.js';

/** `--http-listen` and `--http-token-file`, checked by the CLI (listen.ts resolveListen). */
export interface HttpSettings {
  readonly listen: ListenAddress;
  /** The bearer token every request must carry; null: none (loopback only). */
  readonly token: string | null;
  /** The status page's folder (default: the package's web/). */
  readonly webDir?: string;
}

/** The control-socket answers the routes reuse. */
export interface HttpControl {
  ps(): Promise<RawJson>;
  status(params: { name: string }): Promise<unknown>;
}

export interface DaemonHttp {
  readonly url: string;
  readonly feed: RowFeed;
  close(): Promise<void>;
}

export async function startDaemonHttp(deps: {
  settings: HttpSettings; runtime: Runtime; metrics: MetricsSource; control: HttpControl;
  readiness: () => { ready: boolean; reason: string }; onError: (err: unknown) => void;
}): Promise<DaemonHttp> {
  const { runtime } = deps;
  const feed = new RowFeed({ clock: systemClock, onError: deps.onError,
    source: { rows: () => runtime.rowsAsHeld(), freshen: (rows) => runtime.withHeartbeatAgesNow(rows) } });
  const events = new EventStreams({ feed, clock: systemClock });
  const server = await startHttpServer({
    ...deps.settings.listen, token: deps.settings.token, onError: deps.onError,
    routes: {
      metrics: deps.metrics, events, webDir: deps.settings.webDir ?? WEB_DIR, readiness: deps.readiness,
      ps: async () => (await deps.control.ps()).json,
      // As `status NAME --json` prints it.
      status: async (name) => JSON.stringify(await deps.control.status({ name }), null, 2),
    },
  });
  return {
    url: server.url, feed,
    async close() {
      feed.close();
      await server.close();
    },
  };
}
