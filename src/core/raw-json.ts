/**
 * A value serialised once and sent as is, so the daemon can keep its `ps` snapshot as
 * JSON and answer each request without serialising a thousand rows again.
 */
export class RawJson {
  private constructor(readonly json: string) {}

  /** Serialises `value` now; throws if JSON cannot carry it. */
  static of(value: unknown): RawJson {
    const json = JSON.stringify(value);
    if (json === undefined) throw new TypeError(`RawJson.of: ${typeof value} has no JSON form`);
    return new RawJson(json);
  }
}
