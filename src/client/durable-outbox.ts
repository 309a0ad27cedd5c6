import type { Clock } from '../core/clock.js';
import { PendingMessage, type Outbox } from './outbox.js';
import type { OutboxEntry, OutboxSnapshot, OutboxStore } from './outbox-store.js';

/** What the durable outbox needs from its client. */
export interface DurableOutboxHost {
  readonly clock: Clock;
  /** The stored session and its resume secret, read back at start (`hello` will carry them). */
  restored(session: string | undefined, secret: string | undefined): void;
  /** The session and secret to store with the entries now. */
  session(): { readonly session: string | undefined; readonly secret: string | undefined };
  /** The client was closed: saves stop, so the store keeps what it had, for the next client. */
  closed(): boolean;
  /** A restored entry's outcome: no promise waits for it, so it becomes an `outbox` event. */
  settled(entry: OutboxEntry, value: unknown, error?: Error): void;
  /** A load or save failed: reported as `error`, the client goes on in memory. */
  failed(error: unknown): void;
}

/**
 * A {@link LifelineClient}'s outbox kept in an {@link OutboxStore} (the `outbox` option), so its
 * unanswered publishes and requests survive a reload or a restart (docs/protocol.md §5). Loads
 * once at start (the stored entries go ahead of anything made meanwhile, with their ids), then
 * saves the whole outbox whenever the client asks, one save at a time: saves asked for while one
 * runs join the next.
 */
export class DurableOutbox {
  /** The stored outbox is being loaded: `hello` waits for its session (and saves for the load). */
  loading = true;
  readonly #store: OutboxStore;
  readonly #outbox: Outbox;
  readonly #host: DurableOutboxHost;
  /** The save under way (or done), and the next one, not started yet. */
  #saved: Promise<void>;
  #nextSave: Promise<void> | undefined;

  /** Starts loading; `loaded` runs once the load has ended, restored or not. */
  constructor(store: OutboxStore, outbox: Outbox, host: DurableOutboxHost, loaded: () => void) {
    this.#store = store;
    this.#outbox = outbox;
    this.#host = host;
    this.#saved = store
      .load()
      .then((snapshot) => this.#restore(snapshot))
      .catch(host.failed)
      .then(() => {
        this.loading = false;
        loaded();
      });
  }

  /**
   * Saves the outbox (the session and every unanswered publish and request, with its id, 0 when
   * it was never sent) once the save under way is done; resolves when a save that began after
   * this call has ended. Presence queries are read-only and never stored.
   */
  save(): Promise<void> {
    return (this.#nextSave ??= this.#saved = this.#saved.then(() => {
      this.#nextSave = undefined;
      const host = this.#host;
      if (host.closed()) return;
      const entries: OutboxEntry[] = [];
      for (const { kind, json: body, id } of this.#outbox.entries) if (kind !== 'presence.get') entries.push({ kind, body, id });
      const { session, secret } = host.session();
      return this.#store.save({ session, ...(secret === undefined ? {} : { secret }), entries }).catch(host.failed);
    }));
  }

  /**
   * The stored entries go ahead of anything sent meanwhile, with their ids; `hello` will carry
   * the stored session. If it is not resumed, those that were sent fail with `outcome_unknown`
   * (protocol §5) and the others go out under the new session, as for any entry.
   */
  #restore(snapshot: OutboxSnapshot | undefined): void {
    if (!snapshot) return;
    const outbox = this.#outbox;
    const host = this.#host;
    host.restored(snapshot.session, snapshot.secret);
    outbox.restore(
      snapshot.entries.map((record) => {
        const settled = (value: unknown, error?: Error): void => queueMicrotask(() => host.settled(record, value, error));
        const entry = new PendingMessage(record.kind, record.body, settled, (error) => settled(undefined, error), host.clock, 0);
        entry.id = record.id;
        entry.sent = record.id > 0;
        outbox.resumed(record.id);
        return entry;
      }),
    );
  }
}
