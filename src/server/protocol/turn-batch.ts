import type { Defer } from './fanout.js';

/** What a turn batch holds: a connection's transport writes. */
export interface Corkable {
  cork(): void;
  uncork(): void;
}

/**
 * Holds the writes of the connections that received messages in this event-loop turn until the
 * turn's I/O callbacks are done (the next `setImmediate`), so the replies to a batch of messages
 * that arrived together leave in one write per connection instead of one each. A reply that
 * waits on I/O (a remote broker) comes after the flush and is written at once, as before.
 */
export class TurnBatch {
  readonly #held = new Set<Corkable>();
  readonly #defer: Defer;
  readonly #flush = (): void => {
    for (const connection of this.#held) connection.uncork();
    this.#held.clear();
  };

  constructor(defer: Defer = (fn) => setImmediate(fn)) {
    this.#defer = defer;
  }

  hold(connection: Corkable): void {
    if (this.#held.has(connection)) return;
    if (this.#held.size === 0) this.#defer(this.#flush);
    this.#held.add(connection);
    connection.cork();
  }

  /** Writes what a held connection holds now, and what follows at once (before a large write: a catch-up). */
  release(connection: Corkable): void {
    if (this.#held.delete(connection)) connection.uncork();
  }
}
