/**
 * A value serialised once and sent as is, so the daemon can keep its `ps` snapshot as
 * JSON and answer each request without serialising a thousand rows again.
 */
export class RawJson {
  #bytes: Buffer | null = null;

  private constructor(readonly json: string) {}

  /**
   * The UTF-8 bytes, encoded on first use and kept: each send of a cached snapshot then writes
   * bytes instead of encoding the string again (at 1000 handlers, ~3.6 ms of the daemon's ~7 ms
   * per `ps` went to encoding ~1 MB into the socket; docs/decisions.md, "ps at 1000 handlers").
   */
  get bytes(): Buffer {
    this.#bytes ??= Buffer.from(this.json, 'utf8');
    return this.#bytes;
  }

  /** Serialises `value` now; throws if JSON cannot carry it. */
  static of(value: unknown): RawJson {
    const json = JSON.stringify(value);
    if (json === undefined) throw new TypeError(`RawJson.of: ${typeof value} has no JSON form`);
    return new RawJson(json);
  }
}
