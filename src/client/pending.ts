import type { Clock } from '../core/clock.js';
import { Timer } from '../core/timer.js';
import { ReplyError } from './reply-error.js';
import { isPosition, remoteError, type ServerMessage } from './wire.js';

/** Client messages that wait for a reply with their `id`. */
export type PendingKind = 'publish' | 'request' | 'presence.get';

/**
 * One message waiting for its reply: its body (encoded once), the per-session id it was
 * numbered with, whether it left the client, its timeout and its promise's outcome.
 *
 * The timeout rejects the promise only: the message stays queued and is still (re)sent, so the
 * server's per-session id window keeps its exactly-once promise (a reply that comes later is
 * dropped). `id` 0 means "not numbered in this session yet".
 */
export class PendingMessage {
  id = 0;
  /** It went out on an open socket: its effect may have happened. */
  sent = false;
  readonly #timer: Timer;

  constructor(
    readonly kind: PendingKind,
    /** The message as JSON, without its id. */
    readonly json: string,
    private readonly resolve: (value: unknown) => void,
    private readonly reject: (error: Error) => void,
    clock: Clock,
    timeout: number,
  ) {
    this.#timer = new Timer(clock, () => reject(new ReplyError('timeout', `no reply within ${timeout} ms; the message stays queued and may still take effect`)));
    if (timeout > 0 && Number.isFinite(timeout)) this.#timer.start(timeout);
  }

  /** The wire text under the current id (`id` first, then the body's fields). */
  frame(): string {
    return `{"id":${this.id},${this.json.slice(1)}`;
  }

  /** Settles with a server reply to this id. */
  settle(reply: ServerMessage): void {
    if (reply.type === 'error') return this.fail(remoteError(reply));
    this.#timer.stop();
    const value = this.kind === 'publish' ? reply.position : this.kind === 'request' ? reply.data : reply.members;
    if (this.kind === 'publish' && !isPosition(value)) this.reject(new ReplyError('bad_reply', 'an ack without a valid position'));
    else if (this.kind === 'presence.get' && !Array.isArray(value)) this.reject(new ReplyError('bad_reply', 'a presence list without members'));
    else this.resolve(value);
  }

  fail(error: Error): void {
    this.#timer.stop();
    this.reject(error);
  }
}

/** Puts a frame on the live link; false when the socket did not take it. */
export type Write = (text: string) => boolean;

/**
 * The client's unanswered messages, in the order the app sent them, and the session's id
 * counter (docs/protocol.md: ids grow by one per message within a session). Resent in order
 * with their ids after a resume, renumbered when the session was lost, failed all at once on close.
 */
export class Outbox {
  readonly #entries = new Set<PendingMessage>();
  /** Entries (re)sent on the current link, by id: where replies go. */
  readonly #sent = new Map<number, PendingMessage>();
  #lastId = 0;

  get size(): number {
    return this.#entries.size;
  }

  /** The session's next id (subscribe and unsubscribe take theirs here too). */
  nextId(): number {
    return ++this.#lastId;
  }

  add(entry: PendingMessage): void {
    this.#entries.add(entry);
  }

  /** Sends on the live link: with its id if it has one in this session, else the next. */
  send(entry: PendingMessage, write: Write): void {
    if (entry.id === 0) entry.id = this.nextId();
    this.#sent.set(entry.id, entry);
    // Refused when the socket is already closing: it stays unsent, for the next link.
    if (write(entry.frame())) entry.sent = true;
  }

  /** Everything unanswered, in order, on a new link. */
  sendAll(write: Write): void {
    for (const entry of this.#entries) this.send(entry, write);
  }

  /** Settles the entry a reply is for; false when `id` is not one of the outbox's. */
  settle(id: number, reply: ServerMessage): boolean {
    const entry = this.#sent.get(id);
    if (!entry) return false;
    this.#sent.delete(id);
    this.#entries.delete(entry);
    entry.settle(reply);
    return true;
  }

  /** The link ended: no reply comes on it any more. */
  linkLost(): void {
    this.#sent.clear();
  }

  /** The server resumed the session: it has processed ids up to `acked`, so new ids start above. */
  resumed(acked: number): void {
    this.#lastId = Math.max(this.#lastId, acked);
  }

  /**
   * The server does not know the session (docs/protocol.md §5): a publish or request that was
   * sent may or may not have taken effect, so it fails with `outcome_unknown` instead of risking
   * a second run; the rest (never sent, or read-only presence queries) start over unnumbered.
   */
  newSession(): void {
    this.#lastId = 0;
    for (const entry of this.#entries) {
      if (entry.sent && entry.kind !== 'presence.get') {
        this.#entries.delete(entry);
        entry.fail(new ReplyError('outcome_unknown', `${entry.kind} ${entry.id} was sent, then the session was lost: its effect is unknown`));
      } else {
        entry.id = 0;
        entry.sent = false;
      }
    }
  }

  failAll(error: Error): void {
    const entries = [...this.#entries];
    this.#entries.clear();
    this.#sent.clear();
    for (const entry of entries) entry.fail(error);
  }
}
