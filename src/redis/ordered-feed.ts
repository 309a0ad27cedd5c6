import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';

/** An item of a numbered sequence: a channel event (epoch, offset) or a direct message ('' , seq). */
export interface Numbered {
  readonly epoch: string;
  readonly n: number;
}

/**
 * Fetches what came after `after` (up to the source's head), in order; `undefined` when it is
 * no longer available. When the sequence started a new epoch since `after`, the new epoch's
 * items from its first one (or `undefined` when they are gone).
 */
export type Refill<T extends Numbered> = (after: Numbered) => Promise<readonly T[] | undefined>;

export interface OrderedFeedOptions {
  /** The clock the retries of a failed refill wait on. Default: the platform clock. */
  readonly clock?: Clock;
  /**
   * How long a refill that failed (it threw: the durable copy could not be read, as during a
   * failover) is tried again before the hole is given up, ms. Default 20 000; 0 gives up at once.
   */
  readonly retryFor?: number;
}

/** The first wait before a failed refill is tried again, ms; it doubles up to {@link RETRY_MAX}. */
const RETRY_FIRST = 100;
const RETRY_MAX = 2_000;
/** Items held back behind a hole while its refill is retried; past this the hole is given up. */
const MAX_WAITING = 10_000;
/** How many epochs the feed moved away from it remembers, to drop their late items. */
const MAX_LEFT = 16;

/**
 * Turns an at-most-once stream (Redis pub/sub drops messages while a subscriber reconnects)
 * into an ordered one without holes: an item past a gap waits while the gap is fetched from
 * the durable copy (the stream, the outbox), duplicates are dropped, and after a reconnect
 * {@link resync} fetches whatever was missed. When a gap cannot be filled the item is delivered
 * anyway: the receiver sees the hole and resynchronises its client (the hub closes with 1013).
 * A refill that fails (as opposed to finding the items gone) is tried again, waiting 100 ms
 * doubling to 2 s, for `retryFor` ms, so a failover shorter than that leaves no hole; the items
 * heard meanwhile wait (at most 10,000 of them).
 * Once the feed moved to a new epoch, an item of an epoch it left is not delivered: heard late
 * (on another connection), it is older than what was delivered, and taking it for a new epoch
 * would refill the current one from its first item, delivering it twice. It makes the feed read
 * the durable copy instead, which says where the sequence stands: back in that epoch (an older
 * copy restored), the feed follows it from there.
 * No I/O of its own: the refill function and the clock are given.
 */
export class OrderedFeed<T extends Numbered> {
  #last: Numbered | undefined;
  #filling = false;
  /** A resync asked for while a fill ran: that fill may have read the durable copy too early. */
  #again = false;
  #waiting: T[] = [];
  /** The epochs the feed moved away from, oldest first (at most {@link MAX_LEFT}). */
  #left: string[] = [];
  #closed = false;
  /** The wait before the next try of a failed refill, and how to end it early. */
  #retry: { readonly handle: TimerHandle; readonly wake: () => void } | undefined;
  readonly #clock: Clock;
  readonly #retryFor: number;

  constructor(
    private readonly refill: Refill<T>,
    private readonly deliver: (item: T) => void,
    options: OrderedFeedOptions = {},
  ) {
    this.#clock = options.clock ?? systemClock;
    this.#retryFor = Math.max(0, options.retryFor ?? 20_000);
  }

  /** The last item delivered. */
  get last(): Numbered | undefined {
    return this.#last;
  }

  /** Starts from `position` (what the subscriber already has), so the next item is checked against it. */
  startAt(position: Numbered): void {
    if (this.#last === undefined) this.#last = position;
  }

  push(item: T): void {
    if (this.#closed) return;
    if (this.#filling) this.#waiting.push(item);
    else this.#take(item);
  }

  /**
   * After a lost connection, or once a subscription moved to another node is in place again:
   * fetch and deliver what was missed since the last item. Asked while a fill runs, another
   * fill follows it (the running one may have read the durable copy before the subscription
   * was back).
   */
  resync(): Promise<void> {
    if (this.#last === undefined || this.#closed) return Promise.resolve();
    if (this.#filling) {
      this.#again = true;
      return Promise.resolve();
    }
    return this.#fill(undefined);
  }

  /**
   * The source stands at `tail` now (read while no item arrived for a while): when that is
   * past the last item delivered, items were published and never heard (a subscription moved
   * silently), so they are fetched like after a reconnect. Behind or level, nothing happens.
   */
  catchUp(tail: Numbered): Promise<void> {
    const last = this.#last;
    if (last === undefined) return Promise.resolve();
    const ahead = tail.epoch === last.epoch ? tail.n > last.n : tail.n > 0;
    return ahead ? this.resync() : Promise.resolve();
  }

  /** Delivers nothing more and stops retrying a refill (the feed ended or the broker closed). */
  close(): void {
    this.#closed = true;
    this.#waiting = [];
    const retry = this.#retry;
    if (retry === undefined) return;
    this.#retry = undefined;
    this.#clock.clearTimeout(retry.handle);
    retry.wake();
  }

  #take(item: T): void {
    if (this.#stale(item)) {
      void this.resync();
      return;
    }
    const last = this.#last;
    if (last !== undefined && item.epoch === last.epoch) {
      if (item.n <= last.n) return; // already delivered
      if (item.n > last.n + 1) {
        void this.#fill(item);
        return;
      }
    }
    // A new epoch that does not start at its first item: its first ones were missed too.
    if (last !== undefined && item.epoch !== last.epoch && item.n > 1) {
      void this.#fill(item);
      return;
    }
    this.#emit(item);
  }

  #emit(item: T): void {
    const last = this.#last;
    if (last !== undefined && last.epoch !== item.epoch) {
      // The refill answers where the source stands: an epoch it delivers is current again.
      this.#left = this.#left.filter((epoch) => epoch !== last.epoch && epoch !== item.epoch);
      this.#left.push(last.epoch);
      if (this.#left.length > MAX_LEFT) this.#left.shift();
    }
    this.#last = { epoch: item.epoch, n: item.n };
    this.deliver(item);
  }

  /** Whether `item` is of an epoch the feed moved away from: older than what it delivered. */
  #stale(item: T): boolean {
    return this.#left.includes(item.epoch);
  }

  /**
   * Reads the durable copy after the last item and delivers it, then what arrived meanwhile.
   * When what arrived meanwhile still leaves a hole (it was published after the read: the
   * subscription was not back yet), the copy is read once more before giving up on the hole.
   */
  async #fill(trigger: T | undefined, attempt = 1): Promise<void> {
    const from = this.#last;
    if (from === undefined) return;
    this.#filling = true;
    if (trigger !== undefined) this.#waiting.unshift(trigger);
    const missed = await this.#read(from);
    if (this.#closed) return;
    for (const item of missed || []) {
      const last = this.#last;
      if (last === undefined || item.epoch !== last.epoch || item.n === last.n + 1) this.#emit(item);
    }
    // What arrived meanwhile, in order: each epoch's items by number, the epochs as first heard.
    const rank = new Map<string, number>();
    for (const item of this.#waiting) if (!rank.has(item.epoch)) rank.set(item.epoch, rank.size);
    const waiting = this.#waiting.sort((a, b) => (rank.get(a.epoch) ?? 0) - (rank.get(b.epoch) ?? 0) || a.n - b.n);
    if (attempt === 1 && missed !== false && this.#opensHole(waiting)) return this.#fill(undefined, 2);
    // A hole still open after a second read, or after the copy could not be read for
    // `retryFor`, cannot be filled: the items are delivered as they are, and the receiver sees
    // the hole.
    this.#filling = false;
    this.#waiting = [];
    for (const item of waiting) {
      if (this.#stale(item)) {
        // Heard during the read, it may be from after it: the copy is read once more.
        this.#again = true;
        continue;
      }
      const last = this.#last;
      if (last === undefined || item.epoch !== last.epoch || item.n > last.n) this.#emit(item);
    }
    if (this.#again) {
      this.#again = false;
      await this.resync();
    }
  }

  /**
   * The refill of what came after `from`; a refill that throws is tried again until it has
   * failed for `retryFor` ms (or the feed closed, or too many items wait), then `false`: not
   * read (`undefined` is the refill's own answer: the items are gone).
   */
  async #read(from: Numbered): Promise<readonly T[] | undefined | false> {
    const started = this.#clock.now();
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.refill(from);
      } catch {
        const left = this.#retryFor - (this.#clock.now() - started);
        if (this.#closed || left <= 0 || this.#waiting.length > MAX_WAITING) return false;
        await this.#sleep(Math.min(RETRY_FIRST * 2 ** attempt, RETRY_MAX, left));
        if (this.#closed) return false;
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((wake) => {
      const handle = this.#clock.setTimeout(() => {
        this.#retry = undefined;
        wake();
      }, ms);
      this.#retry = { handle, wake };
    });
  }

  /** Whether the first of `items` not delivered yet leaves a hole after the last item delivered. */
  #opensHole(items: readonly T[]): boolean {
    const last = this.#last;
    if (last === undefined) return false;
    const next = items.find((item) => !this.#stale(item) && (item.epoch !== last.epoch || item.n > last.n));
    if (next === undefined) return false;
    return next.epoch === last.epoch ? next.n > last.n + 1 : next.n > 1;
  }
}
