/** An item of a numbered sequence: a channel event (epoch, offset) or a direct message ('' , seq). */
export interface Numbered {
  readonly epoch: string;
  readonly n: number;
}

/**
 * Fetches what came after `after` (up to the source's head), in order; `undefined` when it is
 * no longer available.
 */
export type Refill<T extends Numbered> = (after: Numbered) => Promise<readonly T[] | undefined>;

/**
 * Turns an at-most-once stream (Redis pub/sub drops messages while a subscriber reconnects)
 * into an ordered one without holes: an item past a gap waits while the gap is fetched from
 * the durable copy (the stream, the outbox), duplicates are dropped, and after a reconnect
 * {@link resync} fetches whatever was missed. When a gap cannot be filled the item is delivered
 * anyway: the receiver sees the hole and resynchronises its client (the hub closes with 1013).
 * No I/O of its own: the refill function is given.
 */
export class OrderedFeed<T extends Numbered> {
  #last: Numbered | undefined;
  #filling = false;
  #waiting: T[] = [];

  constructor(
    private readonly refill: Refill<T>,
    private readonly deliver: (item: T) => void,
  ) {}

  /** The last item delivered. */
  get last(): Numbered | undefined {
    return this.#last;
  }

  /** Starts from `position` (what the subscriber already has), so the next item is checked against it. */
  startAt(position: Numbered): void {
    if (this.#last === undefined) this.#last = position;
  }

  push(item: T): void {
    if (this.#filling) this.#waiting.push(item);
    else this.#take(item);
  }

  /** After a lost connection: fetch and deliver what was missed since the last item. */
  resync(): Promise<void> {
    if (this.#filling || this.#last === undefined) return Promise.resolve();
    return this.#fill(undefined);
  }

  #take(item: T): void {
    const last = this.#last;
    if (last !== undefined && item.epoch === last.epoch) {
      if (item.n <= last.n) return; // already delivered
      if (item.n > last.n + 1) {
        void this.#fill(item);
        return;
      }
    }
    this.#emit(item);
  }

  #emit(item: T): void {
    this.#last = { epoch: item.epoch, n: item.n };
    this.deliver(item);
  }

  async #fill(trigger: T | undefined): Promise<void> {
    const from = this.#last;
    if (from === undefined) return;
    this.#filling = true;
    if (trigger !== undefined) this.#waiting.unshift(trigger);
    let missed: readonly T[] | undefined;
    try {
      missed = await this.refill(from);
    } catch {
      missed = undefined;
    }
    for (const item of missed ?? []) {
      const last = this.#last;
      if (last === undefined || item.epoch !== last.epoch || item.n === last.n + 1) this.#emit(item);
    }
    this.#filling = false;
    // What arrived meanwhile, in order. A gap still open after one refill cannot be filled:
    // its items are delivered as they are, and the receiver sees the hole.
    const waiting = this.#waiting.sort((a, b) => (a.epoch === b.epoch ? a.n - b.n : 0));
    this.#waiting = [];
    for (const item of waiting) {
      const last = this.#last;
      if (last === undefined || item.epoch !== last.epoch || item.n > last.n) this.#emit(item);
    }
  }
}
