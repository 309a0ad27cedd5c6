/**
 * The server's memory of a session's processed message ids, for exactly-once effect across
 * resends: ids grow by one per message in a session, so a window keeps the last `capacity`
 * replies; an id already answered gets its stored reply, an id below the window is `expired`,
 * anything else is new. Pure data; the broker stores it between connections.
 */
export type WindowVerdict<R> = { readonly kind: 'new' } | { readonly kind: 'repeat'; readonly reply: R } | { readonly kind: 'expired' };

export interface RequestWindowState<R> {
  /** Highest id processed. */
  readonly acked: number;
  /** Ids at or below this are forgotten. */
  readonly floor: number;
  readonly replies: readonly (readonly [id: number, reply: R])[];
}

export class RequestWindow<R> {
  #acked: number;
  #floor: number;
  /** Made at the first reply: most sessions of a subscribe-only client never need it. */
  #map: Map<number, R> | undefined;

  constructor(
    readonly capacity: number,
    state?: RequestWindowState<R>,
  ) {
    this.#acked = state?.acked ?? 0;
    this.#floor = state?.floor ?? 0;
    if (state !== undefined && state.replies.length > 0) this.#map = new Map(state.replies);
  }

  get acked(): number {
    return this.#acked;
  }

  check(id: number): WindowVerdict<R> {
    // `has`, not `get() !== undefined`: a reply may itself be undefined (R is any type), and a
    // processed id must never look new.
    const replies = this.#map;
    if (replies?.has(id)) return { kind: 'repeat', reply: replies.get(id) as R };
    if (id <= this.#floor) return { kind: 'expired' };
    return { kind: 'new' };
  }

  /** Records the reply to `id`; the oldest replies beyond `capacity` are forgotten. */
  record(id: number, reply: R): void {
    const replies = (this.#map ??= new Map());
    replies.set(id, reply);
    if (id > this.#acked) this.#acked = id;
    // Insertion order is (nearly always) id order: evict from the front; stored replies are
    // looked up before the floor, so an out-of-order survivor is still answered.
    if (replies.size <= this.capacity) return;
    for (const oldest of replies.keys()) {
      replies.delete(oldest);
      if (oldest > this.#floor) this.#floor = oldest;
      if (replies.size <= this.capacity) break;
    }
  }

  snapshot(): RequestWindowState<R> {
    return { acked: this.#acked, floor: this.#floor, replies: this.#map ? [...this.#map] : [] };
  }
}
