// Loads server payloads keyed by id (run details, run metrics) into one record that several
// requests fill at the same time.
//
// The record must be extended with each answer as it is *when that answer arrives*. Writing
// `record = { ...record, [id]: await fetch(id) }` copies the record before the await, so with six
// runs in flight every answer overwrites the others' and only the last few survive; the effect
// that asks for the missing ids then fires again, forever (the linear view drew 4 of 6 runs while
// hundreds of requests went out). This module keeps one request per id in flight and hands each
// answer to `commit`, which reads the current record.

export interface KeyedLoaderOptions<T> {
  fetch: (id: string) => Promise<T>;
  /** Store one answer; read the record here, at commit time (see `withEntry`). */
  commit: (id: string, value: T) => void;
  /** The request for `id` failed (not called for an answer superseded by a newer request). */
  fail?: (id: string, error: unknown) => void;
}

/** `record` plus one entry, as a new object (the record is replaced whole, never mutated). */
export function withEntry<T>(record: Readonly<Record<string, T>>, id: string, value: T): Record<string, T> {
  return { ...record, [id]: value };
}

export class KeyedLoader<T> {
  readonly #options: KeyedLoaderOptions<T>;
  /** id → number of the newest request sent for it, while that request is in flight. */
  readonly #inFlight = new Map<string, number>();
  #sent = 0;

  constructor(options: KeyedLoaderOptions<T>) {
    this.#options = options;
  }

  /** Request every id that `has` does not hold and that is not already being fetched. */
  ensure(ids: Iterable<string>, has: (id: string) => boolean): void {
    for (const id of ids) if (!has(id) && !this.#inFlight.has(id)) void this.refresh(id);
  }

  /**
   * Request `id` now, even when it is held or in flight (a live run grew). When requests of one
   * id overlap, only the newest one's answer is committed.
   */
  async refresh(id: string): Promise<void> {
    const ticket = ++this.#sent;
    this.#inFlight.set(id, ticket);
    let value: T;
    try {
      value = await this.#options.fetch(id);
    } catch (error) {
      if (this.#inFlight.get(id) !== ticket) return;
      this.#inFlight.delete(id);
      this.#options.fail?.(id, error);
      return;
    }
    if (this.#inFlight.get(id) !== ticket) return;
    this.#inFlight.delete(id);
    this.#options.commit(id, value);
  }

  pending(id: string): boolean {
    return this.#inFlight.has(id);
  }
}
