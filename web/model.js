// The fleet as the page knows it: rows by name, each with the server instant (`at`) its counted
// seconds were taken at, so ages and uptimes tick on without a message from the server.

/** Is a handler on its way somewhere (an operation running, installing, or enabled but not yet Ready)? */
export function isTransitioning(row) {
  if (row.status === 'Failed' || row.status === 'Unresponsive') return false;
  return row.status === 'Installing' || row.lastOperation?.result === 'running'
    || (row.status === 'NotReady' && row.desiredState === 'enabled');
}

export class Fleet {
  constructor() {
    /** @type {Map<string, {row: any, at: number}>} */
    this.byName = new Map();
    /** Server time minus local time, from the newest message (ms). */
    this.skew = 0;
    this.version = 0;
  }

  /** The server's clock now, in ms. */
  serverNow() { return Date.now() + this.skew; }

  #noteAt(atIso) {
    const at = Date.parse(atIso);
    if (Number.isFinite(at)) this.skew = at - Date.now();
    return Number.isFinite(at) ? at : Date.now() + this.skew;
  }

  /** A snapshot replaces everything. */
  snapshot(msg) {
    const at = this.#noteAt(msg.at);
    this.byName = new Map(msg.rows.map((row) => [row.name, { row, at }]));
    this.version++;
  }

  /** Changed rows replace theirs (or are added). Returns their names. */
  update(msg) {
    const at = this.#noteAt(msg.at);
    for (const row of msg.rows) this.byName.set(row.name, { row, at });
    this.version++;
    return msg.rows.map((r) => r.name);
  }

  remove(msg) {
    this.#noteAt(msg.at);
    for (const n of msg.names) this.byName.delete(n);
    this.version++;
    return msg.names;
  }

  /** A counted number of seconds (heartbeatAgeSeconds, uptimeSeconds) as of now, or null. */
  ticked(entry, field) {
    const v = entry.row[field];
    if (v === null || v === undefined) return null;
    return v + Math.max(0, (this.serverNow() - entry.at) / 1000);
  }

  counts() {
    const c = { total: 0, Ready: 0, Failed: 0, Unresponsive: 0, transitioning: 0 };
    for (const { row } of this.byName.values()) {
      c.total++;
      if (row.status === 'Ready') c.Ready++;
      else if (row.status === 'Failed') c.Failed++;
      else if (row.status === 'Unresponsive') c.Unresponsive++;
      if (isTransitioning(row)) c.transitioning++;
    }
    return c;
  }
}
