/**
 * The server's memory of a session's processed message ids, for exactly-once effect across
 * resends: ids grow by one per message in a session, so a window keeps the replies of the
 * `capacity` highest ids, whatever order they were recorded in (ids may arrive out of order); an
 * id already answered gets its stored reply, an id below the window is `expired`, anything else
 * is new. Pure data; the broker stores it between connections (every broker keeps the same ids).
 */
export type WindowVerdict<R> = { readonly kind: 'new' } | { readonly kind: 'repeat'; readonly reply: R } | { readonly kind: 'expired' };

export interface RequestWindowState<R> {
  /** Highest id processed. */
  readonly acked: number;
  /** Ids at or below this are forgotten. */
  readonly floor: number;
  readonly replies: readonly (readonly [id: number, reply: R])[];
}

/** Whether a window's state holds nothing: no id processed, none forgotten (a new session's). */
export function remembersNothing(state: RequestWindowState<unknown>): boolean {
  return state.acked === 0 && state.floor === 0 && state.replies.length === 0;
}

/** The state of a window that holds nothing (a new object each time). */
export function nothingRemembered<R>(): RequestWindowState<R> {
  return { acked: 0, floor: 0, replies: [] };
}

/** The verdicts without a reply, shared: a check of a new id (every publish and request) allocates nothing. */
const NEW: WindowVerdict<never> = Object.freeze({ kind: 'new' });
const EXPIRED: WindowVerdict<never> = Object.freeze({ kind: 'expired' });

/**
 * A ring of the replies of the `capacity` highest ids, kept in id order from its oldest slot
 * (two parallel arrays that grow to `capacity`, then overwrite their oldest slot, the lowest
 * id): recording the next id costs two array writes and no allocation, where a Map paid an
 * insert and a delete per reply. An id recorded below a newer one (out of order: rare, or a
 * peer's doing) is put in its place by moving the ids between, with no allocation and no sort,
 * so the oldest slot always holds the lowest id and lookups can halve their way to an id.
 */
export class RequestWindow<R> {
  #acked: number;
  #floor: number;
  /** Made at the first reply: most sessions of a subscribe-only client never need them. */
  #ids: number[] | undefined;
  #replies: R[] | undefined;
  /** Slot of the oldest reply (the lowest id) once the ring is full (0 while it grows). */
  #start = 0;

  constructor(
    readonly capacity: number,
    state?: RequestWindowState<R>,
  ) {
    this.#acked = state?.acked ?? 0;
    this.#floor = state?.floor ?? 0;
    if (state !== undefined) this.#load(state.replies);
  }

  /** Takes `replies` as the stored ones; beyond capacity the lowest ids are forgotten. */
  #load(replies: RequestWindowState<R>['replies']): void {
    this.#start = 0;
    this.#ids = this.#replies = undefined;
    if (replies.length === 0) return;
    if (!increasing(replies)) replies = [...replies].sort((a, b) => a[0] - b[0]);
    // Beyond capacity (a smaller window configured since, or a merge): the lowest are forgotten now.
    const skip = Math.max(0, replies.length - this.capacity);
    for (let index = 0; index < skip; index++) this.#forget((replies[index] as readonly [number, R])[0]);
    this.#ids = [];
    this.#replies = [];
    for (let index = skip; index < replies.length; index++) {
      const [id, reply] = replies[index] as readonly [number, R];
      this.#ids.push(id);
      this.#replies.push(reply);
      if (id > this.#acked) this.#acked = id; // a stored id is never above acked (lookups rely on it)
    }
  }

  get acked(): number {
    return this.#acked;
  }

  check(id: number): WindowVerdict<R> {
    // By slot, not by reply: a reply may itself be undefined (R is any type), and a processed id
    // must never look new.
    const slot = this.#slotOf(id);
    if (slot >= 0) return { kind: 'repeat', reply: (this.#replies as R[])[slot] as R };
    return id <= this.#floor ? EXPIRED : NEW;
  }

  /** Records the reply to `id`; the oldest replies beyond `capacity` are forgotten. */
  record(id: number, reply: R): void {
    const ids = (this.#ids ??= []);
    const replies = (this.#replies ??= []);
    // A reply recorded again (the same id) replaces the stored one, in place.
    const slot = this.#slotOf(id);
    if (id > this.#acked) this.#acked = id;
    if (slot >= 0) {
      replies[slot] = reply;
      return;
    }
    const size = ids.length;
    if (size < this.capacity) {
      // Growing (the ring has not wrapped: slot = position): in its place by id, nearly always last.
      let at = size;
      while (at > 0 && (ids[at - 1] as number) > id) at--;
      if (at === size) {
        ids.push(id);
        replies.push(reply);
      } else {
        ids.splice(at, 0, id);
        replies.splice(at, 0, reply);
      }
      return;
    }
    const start = this.#start;
    // Full: the lowest id goes; below it, the new one is that lowest and goes at once.
    if (id < (ids[start] as number)) return this.#forget(id);
    this.#forget(ids[start] as number);
    // The oldest slot becomes the newest: the ids above the new one move up a slot into it (none
    // when it is the highest, as nearly always), and the new id takes the place they left.
    this.#start = start + 1 === size ? 0 : start + 1;
    let at = start;
    for (let below = at === 0 ? size - 1 : at - 1; below !== start && (ids[below] as number) > id; below = below === 0 ? size - 1 : below - 1) {
      ids[at] = ids[below] as number;
      replies[at] = replies[below] as R;
      at = below;
    }
    ids[at] = id;
    replies[at] = reply;
  }

  /**
   * Takes in what another copy of the same session's window knows: its replies this one lacks,
   * and its `acked` and `floor` where higher, so that no id either copy answered or forgot looks
   * new here. Of the two copies' replies the `capacity` highest ids are kept (this copy's reply
   * where both hold one) and the rest forgotten: the copies' recording orders interleave, so
   * appending the other's replies in its order would let an older id push a newer one out.
   */
  merge(other: RequestWindowState<R>): void {
    const own = this.snapshot().replies;
    const held = new Set(own.map(([id]) => id));
    const lacking = other.replies.filter(([id]) => !held.has(id));
    if (other.acked > this.#acked) this.#acked = other.acked;
    this.#forget(other.floor);
    if (lacking.length > 0) this.#load([...own, ...lacking].sort((a, b) => a[0] - b[0]));
  }

  /** The state to store: the replies in id order. */
  snapshot(): RequestWindowState<R> {
    return { acked: this.#acked, floor: this.#floor, replies: this.#ordered() };
  }

  /** The stored replies from the oldest slot on (a new array). */
  #ordered(): (readonly [number, R])[] {
    const ids = this.#ids ?? [];
    const replies = this.#replies ?? [];
    const out: (readonly [number, R])[] = [];
    for (let n = 0; n < ids.length; n++) {
      const slot = (this.#start + n) % ids.length;
      out.push([ids[slot] as number, replies[slot] as R]);
    }
    return out;
  }

  #forget(id: number): void {
    if (id > this.#floor) this.#floor = id;
  }

  /** The slot holding `id`'s reply, or -1. */
  #slotOf(id: number): number {
    const ids = this.#ids;
    if (ids === undefined || ids.length === 0 || id > this.#acked) return -1;
    const size = ids.length;
    // The newest slot holds `acked` when replies came in id order; `id` is then `acked - id` before it.
    const newest = (this.#start + size - 1) % size;
    const back = this.#acked - id;
    if (back < size) {
      const guess = (newest - back + size) % size;
      if (ids[guess] === id) return guess;
    }
    // In id order from the oldest slot: halved to the id's place.
    let low = 0;
    let high = size - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const slot = (this.#start + middle) % size;
      const at = ids[slot] as number;
      if (at === id) return slot;
      if (at < id) low = middle + 1;
      else high = middle - 1;
    }
    return -1;
  }
}

function increasing(replies: RequestWindowState<unknown>['replies']): boolean {
  for (let index = 1; index < replies.length; index++) if ((replies[index] as readonly [number, unknown])[0] <= (replies[index - 1] as readonly [number, unknown])[0]) return false;
  return true;
}
