import type { Clock } from '../core/clock.js';
import { InvalidOptionError } from '../core/errors.js';
import { lifelineEvent } from './events.js';
import { pendingMessage, type Outbox, type SendRetry } from './outbox.js';
import type { OutboxEntry, OutboxSnapshot, OutboxStore } from './outbox-store.js';
import { outboxSnapshot } from './outbox-snapshot.js';

/** A session id and its resume secret. */
export type SessionPair = readonly [session: string | undefined, secret: string | undefined];

/** The client a durable outbox works for (public: the `outbox` option's type names it): `outbox` and `error` events go to it. */
export type DurableOutboxClient = EventTarget & { readonly transport: { readonly options: { readonly clock: Clock } } };

/** With no argument, the session and secret to store now; with one, those read back at start (`hello` will carry them). */
export type SessionAccess = (restored?: SessionPair) => SessionPair;

/**
 * The `outbox` option of a {@link LifelineClient}: a store that brings the durable outbox's code
 * with it, so an app without one bundles none of it. The built-in stores are outbox options
 * themselves; any other {@link OutboxStore} becomes one through {@link withOutbox}.
 */
export interface OutboxOption {
  /**
   * Starts the durable outbox of a client (called by the client, not by apps); `loaded` runs once
   * the load has ended (restored or not); `retry`: how a restored entry refused `unavailable` is
   * resent, as the client's own are.
   */
  attach(client: DurableOutboxClient, outbox: Outbox, session: SessionAccess, loaded: () => void, retry?: SendRetry): DurableOutbox;
}

/**
 * Your own {@link OutboxStore} as the `outbox` option (the built-in stores need no wrapping; the
 * Node entry wraps any store itself).
 *
 * @example
 * const client = new LifelineClient(url, { outbox: withOutbox({ load, save }) });
 */
export function withOutbox(store: OutboxStore): OutboxOption {
  if (typeof store?.load !== 'function' || typeof store.save !== 'function') throw new InvalidOptionError('outbox', 'a store needs load() and save()');
  return { attach: (...host) => new DurableOutbox(store, ...host) };
}

/** A built-in store: an {@link OutboxStore} that is an {@link OutboxOption} too. */
export abstract class DurableOutboxStore implements OutboxStore, OutboxOption {
  abstract load(): Promise<OutboxSnapshot | undefined>;
  abstract save(snapshot: OutboxSnapshot): Promise<void>;

  /** Starts the durable outbox of a client (called by the client, not by apps). */
  attach(...host: [client: DurableOutboxClient, outbox: Outbox, session: SessionAccess, loaded: () => void, retry?: SendRetry]): DurableOutbox {
    return new DurableOutbox(this, ...host);
  }
}

/** What a logged-out client's outbox stores: nothing. */
const CLEARED: OutboxEntry[] = [];

/** What `call` returns, or its synchronous throw as a rejection (a store over a synchronous API, localStorage say, may throw). */
function settled<T>(call: () => Promise<T>): Promise<T> {
  return new Promise<T>((resolve) => resolve(call()));
}

/**
 * A {@link LifelineClient}'s outbox kept in an {@link OutboxStore} (the `outbox` option), so its
 * unanswered publishes and requests survive a reload or a restart (docs/protocol.md §5). Loads
 * once at start (the stored entries go ahead of anything made meanwhile, with their ids), then
 * saves the whole outbox whenever the client asks, one save at a time: saves asked for while one
 * runs join the next. A failed load or save is an `error` event; the client goes on in memory.
 */
export class DurableOutbox {
  /** The stored outbox is being loaded: `hello` waits for its session (and saves for the load). */
  loading = true;
  readonly #store: OutboxStore;
  readonly #client: DurableOutboxClient;
  readonly #outbox: Outbox;
  readonly #session: SessionAccess;
  readonly #retry: SendRetry | undefined;
  /** The save under way (or done), and the next one, not started yet. */
  #saved: Promise<void>;
  #nextSave: Promise<void> | undefined;
  /** Once the client is closed: what every later save stores (the entries unanswered then), or `false`: nothing more is saved. */
  #kept: OutboxEntry[] | false | undefined;
  readonly #failed = (error: unknown): void => void this.#client.dispatchEvent(lifelineEvent('error', { error }));

  /** @internal Starts loading; `loaded` runs once the load has ended, restored or not. */
  constructor(store: OutboxStore, client: DurableOutboxClient, outbox: Outbox, session: SessionAccess, loaded: () => void, retry?: SendRetry) {
    this.#store = store;
    this.#client = client;
    this.#outbox = outbox;
    this.#session = session;
    this.#retry = retry;
    this.#saved = settled(() => store.load())
      .then((snapshot) => this.#restore(snapshot))
      .catch(this.#failed)
      .then(() => {
        this.loading = false;
        loaded();
      });
  }

  /**
   * Saves the outbox (the session and every unanswered publish and request, with its id, 0 when
   * it was never sent) once the save under way is done; resolves when a save that began after
   * this call has ended.
   */
  save(): Promise<void> {
    return (this.#nextSave ??= this.#saved = this.#saved.then(() => {
      this.#nextSave = undefined;
      const kept = this.#kept;
      if (kept === false) return;
      const entries = kept || this.#entries();
      const [session, secret] = this.#session();
      return settled(() => this.#store.save({ session, ...(secret === undefined ? {} : { secret }), entries })).catch(this.#failed);
    }));
  }

  /** Settles (never rejects) once the load and every save asked for so far have ended: after `close()`, the last one. */
  get idle(): Promise<void> {
    const saved = this.#saved;
    // A save asked for meanwhile (the one a close() during the load asks for, say) is waited for too.
    return saved.then(() => (saved === this.#saved ? undefined : this.idle));
  }

  /**
   * The client closes (its promises are about to fail with `closed`): what is unanswered now stays
   * stored for the next client, and a save still to come (one asked for by an answer that
   * arrived just before) stores exactly that. Closed before the store had loaded, what was made
   * meanwhile (never sent) is stored after what the load brings back, with its session; with
   * nothing made meanwhile, the store is left as the last client left it.
   */
  close(): void {
    if (this.#kept === CLEARED) return; // logged out: nothing comes back
    const entries = this.#entries();
    this.#kept = (!this.loading || entries.length > 0) && entries;
  }

  /** Logging out: every save from now on stores an empty outbox (and the session the client forgot); resolves once one has. */
  clear(): Promise<void> {
    this.#kept = CLEARED;
    return this.save();
  }

  /** The unanswered publishes and requests, with their ids (0: never sent). Presence queries are read-only and never stored. */
  #entries(): OutboxEntry[] {
    const entries: OutboxEntry[] = [];
    for (const { kind, json: body, id } of this.#outbox.entries) if (kind !== 'presence.get') entries.push({ kind, body, id });
    return entries;
  }

  /**
   * What the store handed back, if it is an outbox; anything else (a record another program
   * wrote, a store of one's own that returns something else) is reported as an `error` event and
   * the client starts with an empty outbox (its next save replaces the record).
   */
  #checked(loaded: OutboxSnapshot | undefined): OutboxSnapshot | undefined {
    if (loaded === undefined || loaded === null) return undefined;
    try {
      return outboxSnapshot(loaded);
    } catch (error) {
      this.#failed(new Error(`the stored outbox is not one (${(error as Error).message}); starting with an empty outbox`, { cause: error }));
      return undefined;
    }
  }

  /**
   * The stored entries go ahead of anything sent meanwhile, with their ids; `hello` will carry
   * the stored session. If it is not resumed, those that were sent fail with `outcome_unknown`
   * (protocol §5) and the others go out under the new session, as for any entry. No promise
   * waits for a restored entry: its outcome is an `outbox` event.
   */
  #restore(loaded: OutboxSnapshot | undefined): void {
    const snapshot = this.#checked(loaded);
    const kept = this.#kept;
    if (kept !== undefined) {
      // Closed while loading: nothing is restored; what was made meanwhile is stored after what
      // the store held (logged out: nothing).
      if (!kept || kept === CLEARED) return;
      if (snapshot) this.#session([snapshot.session, snapshot.secret]);
      this.#kept = [...(snapshot?.entries ?? []), ...kept];
      return void this.save();
    }
    if (!snapshot) return;
    const client = this.#client;
    const outbox = this.#outbox;
    this.#session([snapshot.session, snapshot.secret]);
    const restored = snapshot.entries.map((entry) => {
      const settled = (value: unknown, error?: Error): void => queueMicrotask(() => client.dispatchEvent(lifelineEvent('outbox', { entry, value, error })));
      // Refused `unavailable`, it is resent under its id as the client's own are, within
      // `retryDeadline` from now (when it was made is not stored).
      const pending = pendingMessage(entry.kind, entry.body, settled, (error) => settled(undefined, error), client.transport.options.clock, 0, this.#retry);
      pending.id = entry.id;
      pending.sent = entry.id > 0;
      outbox.resumed(entry.id);
      return pending;
    });
    // Restored entries go first, ahead of those the app made meanwhile.
    const made = [...outbox.entries];
    outbox.entries.clear();
    for (const entry of [...restored, ...made]) outbox.entries.add(entry);
  }
}
