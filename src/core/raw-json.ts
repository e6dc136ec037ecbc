/**
 * A value serialised once and sent as is, so the daemon can keep its `ps` snapshot as
 * JSON and answer each request without serialising a thousand rows again.
 */
export class RawJson {
  #bytes: Buffer | null = null;
  #json: string | null;

  private constructor(json: string) {
    this.#json = json;
  }

  /** The JSON text (decoded again from the bytes once they were made: the text is not kept twice). */
  get json(): string {
    return this.#json ?? this.#bytes!.toString('utf8');
  }

  /**
   * The UTF-8 bytes, encoded on first use and kept: each send of a cached snapshot then writes
   * bytes instead of encoding the string again (at 1000 handlers, ~3.6 ms of the daemon's ~7 ms
   * per `ps` went to encoding ~1 MB into the socket; docs/decisions.md, "ps at 1000 handlers").
   * The string is then dropped: the daemon holds its last `ps` answer for as long as it runs, and
   * both forms were ~1.1 MB at 1000 handlers against the 100 MB RSS target (issue 20).
   */
  get bytes(): Buffer {
    if (this.#bytes === null) {
      this.#bytes = Buffer.from(this.#json!, 'utf8');
      this.#json = null;
    }
    return this.#bytes;
  }

  /** Serialises `value` now; throws if JSON cannot carry it. */
  static of(value: unknown): RawJson {
    const json = JSON.stringify(value);
    if (json === undefined) throw new TypeError(`RawJson.of: ${typeof value} has no JSON form`);
    return new RawJson(json);
  }
}
