import { DurableOutboxStore } from './durable-outbox.js';

/**
 * The durable outbox of a {@link LifelineClient} (option `outbox`): where its unanswered publishes
 * and requests are kept so that they survive a page reload or a process restart and still take
 * effect once (docs/protocol.md §5). The client saves the outbox before a message goes out and
 * again once it is answered; a new client on the same store resumes the stored session and
 * resends what is left, with the same ids.
 *
 * A store holds one {@link OutboxSnapshot}, replaced as a whole on every save: the session and
 * its entries always agree, and a store is two small methods (one record in IndexedDB, one file
 * on Node).
 */

/** One publish or request in a durable outbox. */
export interface OutboxEntry {
  readonly kind: 'publish' | 'request';
  /** The message as JSON text without its id, as it goes on the wire: `{"type":"publish","channel":"chat:a","data":1}`. */
  readonly body: string;
  /**
   * Its id in the snapshot's session, given just before it was first sent: it may have reached
   * the server, so it is only ever resent with this id in this session (or reported as
   * `outcome_unknown`). 0: never sent, so it may go out under any session.
   */
  readonly id: number;
}

/** What a store holds: the session to resume and its unanswered messages, in the order they were made. */
export interface OutboxSnapshot {
  readonly session?: string;
  /** The session's resume secret: without it the server starts a new session. Keep the store private. */
  readonly secret?: string;
  readonly entries: readonly OutboxEntry[];
}

/**
 * Where a durable outbox lives. `save` replaces what the store holds and resolves once it is
 * stored; the client never runs two saves at once. One client at a time per store (a
 * `FileOutboxStore` refuses a second one with `ERR_OUTBOX_LOCKED`; other stores do not check). To forget
 * everything (logging out), `LifelineClient#logout()` saves `{ entries: [] }` (with no client on the
 * store, save it yourself).
 */
export interface OutboxStore {
  /** What the last save stored; undefined when nothing was ever saved. */
  load(): Promise<OutboxSnapshot | undefined>;
  save(snapshot: OutboxSnapshot): Promise<void>;
}

/**
 * An outbox store in memory: it outlives a client, not the process. For tests: hand the same
 * store to a second client to play a restart.
 */
export class MemoryOutboxStore extends DurableOutboxStore {
  /** What the store holds. */
  snapshot: OutboxSnapshot | undefined;

  async load(): Promise<OutboxSnapshot | undefined> {
    return this.snapshot;
  }

  async save(snapshot: OutboxSnapshot): Promise<void> {
    this.snapshot = snapshot;
  }
}
