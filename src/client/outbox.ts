import { backoffCeiling, jittered, type BackoffOptions } from '../core/backoff.js';
import { utf8ByteLength } from '../core/utf8.js';
import type { Clock, Rng } from '../core/clock.js';
import { Timer } from '../core/timer.js';
import { badReply, ReplyError } from './reply-error.js';
import { isTransientSendRefusal } from './retry-policy.js';
import { isPosition, remoteError, type ServerMessage } from './wire.js';

/** Client messages that wait for a reply with their `id`. */
export type PendingKind = 'publish' | 'request' | 'presence.get';

/** How a message refused with `unavailable` is resent under its id: with backoff, for `within` ms after it was made (0: not at all). */
export interface SendRetry {
  readonly backoff: BackoffOptions;
  readonly rng: Rng;
  readonly within: number;
}

/**
 * One message waiting for its reply: its body (encoded once), the per-session id it was
 * numbered with, whether it left the client, its timeout and its promise's outcome.
 *
 * The timeout rejects the promise only: the message stays queued and is still (re)sent, so the
 * server's per-session id window keeps its exactly-once promise (a reply that comes later is
 * dropped). `id` 0 means "not numbered in this session yet".
 */
export interface PendingMessage {
  readonly kind: PendingKind;
  /** The message as JSON, without its id. */
  readonly json: string;
  id: number;
  /** It went out on an open socket: its effect may have happened. */
  sent: boolean;
  /** Settles with a server reply to this id. */
  settle(reply: ServerMessage): void;
  fail(error: Error): void;
  /**
   * After a transient refusal: schedules `due` after the next backoff delay and returns true, or
   * false when no retry is allowed (none configured, or the delay would pass the deadline).
   */
  retryLater(due: () => void): boolean;
  /** It is being sent now: a scheduled retry is no longer needed. */
  cancelRetry(): void;
}

/**
 * A {@link PendingMessage} whose promise `resolve` and `reject` settle; `timeout` ms (0 or
 * Infinity: never) rejects it with `timeout`. `signal`'s abort calls `abandon` with its reason
 * (the owner forgets the entry, which fails it); the listener goes when the entry is done. Its
 * state lives in closures, not fields (the names of fields would ship in every browser bundle).
 */
export function pendingMessage(kind: PendingKind, json: string, resolve: (value: unknown) => void, reject: (error: Error) => void, clock: Clock, timeout: number, retry?: SendRetry, signal?: AbortSignal, abandon?: (reason: Error) => void): PendingMessage {
  /** When it was made: retries end `within` ms later. */
  const made = clock.now();
  /** Retries made so far. */
  let attempt = 0;
  /** Runs when a retry falls due (set when one is scheduled). */
  let again: Timer | undefined;
  const timer = new Timer(clock, () => reject(new ReplyError('timeout', `no reply in ${timeout} ms`)));
  if (timeout > 0 && Number.isFinite(timeout)) timer.start(timeout);
  const aborted = (): void => abandon?.(signal?.reason);
  signal?.addEventListener('abort', aborted);
  const done = (): void => {
    timer.stop();
    again?.stop();
    signal?.removeEventListener('abort', aborted);
  };
  const fail = (error: Error): void => {
    done();
    reject(error);
  };
  return {
    kind,
    json,
    id: 0,
    sent: false,
    settle(reply) {
      if (reply.type === 'error') return fail(remoteError(reply));
      done();
      const value = kind === 'publish' ? reply.position : kind === 'request' ? reply.data : reply.members;
      if (kind === 'publish' ? isPosition(value) : kind === 'request' || Array.isArray(value)) resolve(value);
      else reject(badReply(reply.type));
    },
    fail,
    retryLater(due) {
      if (!retry?.within) return false;
      // The schedule never gives up by itself: the deadline ends it.
      const delay = jittered(retry.backoff, backoffCeiling(retry.backoff, ++attempt), retry.rng);
      if (clock.now() + delay > made + retry.within) return false;
      (again ??= new Timer(clock, due)).start(delay);
      return true;
    },
    cancelRetry() {
      again?.stop();
    },
  };
}

/** Puts a frame on the live link; false when the socket did not take it. */
export type Write = (text: string) => boolean;

/**
 * The client's unanswered messages, in the order the app sent them, and the session's id
 * counter (docs/protocol.md: ids grow by one per message within a session). Resent in order
 * with their ids after a resume, renumbered when the session was lost, failed all at once on close.
 */
export class Outbox {
  /** Everything unanswered, in order (a durable outbox puts restored entries first). */
  readonly entries = new Set<PendingMessage>();
  /** Entries (re)sent on the current link, by id: where replies go. */
  readonly #sent = new Map<number, PendingMessage>();
  #lastId = 0;
  /** The server's largest message (from welcome): bigger ones are refused before they are stored. */
  maxPayload = Infinity;
  readonly #write: Write;
  readonly #live: () => boolean;

  /** `write` puts frames on the link; `live` says whether the server has welcomed it (a retry that falls due then is resent at once). */
  constructor(write: Write, live: () => boolean) {
    this.#write = write;
    this.#live = live;
  }

  /** The session's next id (subscribe and unsubscribe take theirs here too). */
  nextId(): number {
    return ++this.#lastId;
  }

  /** Adds an entry; false when it is larger than the server accepts (it has failed with `too_big` then). Only its own size is checked. */
  add(entry: PendingMessage): boolean {
    this.entries.add(entry);
    return !this.dropLarger([entry]);
  }

  /** Sends on the live link: with its id if it has one in this session, else the next. */
  send(entry: PendingMessage): void {
    this.#take(entry);
    this.write(entry);
  }

  /** Puts an entry taken for this link on the wire. */
  write(entry: PendingMessage): void {
    // Refused when the socket is already closing: it stays unsent, for the next link.
    // The wire text under the current id: `id` first, then the body's fields.
    if (this.#write(`{"id":${entry.id},${entry.json.slice(1)}`)) entry.sent = true;
  }

  /**
   * Everything not sent on this link yet (or `only`, if not), in order, numbered and taken for
   * this link (replies to it are expected). Everything includes entries waiting out a retry's delay.
   */
  take(only?: PendingMessage): PendingMessage[] {
    const taken: PendingMessage[] = [];
    for (const entry of only ? [only] : this.entries) if (!this.#onLink(entry)) taken.push(this.#take(entry));
    return taken;
  }

  #onLink(entry: PendingMessage): boolean {
    return this.#sent.get(entry.id) === entry;
  }

  #take(entry: PendingMessage): PendingMessage {
    entry.cancelRetry();
    if (entry.id === 0) entry.id = this.nextId();
    this.#sent.set(entry.id, entry);
    return entry;
  }

  /**
   * Settles the entry a reply is for; false when `id` is not one of the outbox's. An `unavailable`
   * refusal within the entry's retry deadline keeps it (with its id), to be resent after a
   * backoff on the live link, unless it was answered or already resent on this link by then.
   */
  settle(id: number, reply: ServerMessage): boolean {
    const entry = this.#sent.get(id);
    if (!entry) return false;
    this.#sent.delete(id);
    const due = (): void => {
      if (this.entries.has(entry) && !this.#onLink(entry) && this.#live()) this.send(entry);
    };
    if (reply.type === 'error' && isTransientSendRefusal(reply.code) && entry.retryLater(due)) return true;
    this.entries.delete(entry);
    entry.settle(reply);
    return true;
  }

  /** The link ended: no reply comes on it any more. */
  linkLost(): void {
    this.#sent.clear();
  }

  /** New ids start above `acked`: the server resumed the session and processed ids up to it (or a restored entry holds it). */
  resumed(acked: number): void {
    this.#lastId = Math.max(this.#lastId, acked);
  }

  /**
   * Fails (with `too_big`) and forgets those of `entries` that may be larger than `maxPayload` on
   * the wire: the server would refuse them with a fatal close. The wire text adds `"id":N,` to
   * the JSON: 22 bytes at most (N below 2^53), counted whatever the id.
   */
  dropLarger(entries: Iterable<PendingMessage>): boolean {
    let dropped = false;
    for (const entry of entries) {
      if (utf8ByteLength(entry.json) + 22 <= this.maxPayload) continue;
      this.forget(entry, new ReplyError('too_big', 'over maxPayload'));
      dropped = true;
    }
    return dropped;
  }

  /** Fails `entry` with `error` and drops it: it is never (re)sent, and a reply to it is ignored. */
  forget(entry: PendingMessage, error: Error): void {
    this.entries.delete(entry);
    this.#sent.delete(entry.id);
    entry.fail(error);
  }

  /**
   * The server does not know the session (docs/protocol.md §5): a publish or request that was
   * sent may or may not have taken effect, so it fails with `outcome_unknown` instead of risking
   * a second run; the rest (never sent, or read-only presence queries) start over unnumbered.
   * Numbering goes on from where it was: a subscribe sent with the hello holds an id already.
   */
  newSession(): void {
    for (const entry of this.entries) {
      if (entry.sent && entry.kind !== 'presence.get') this.forget(entry, new ReplyError('outcome_unknown', 'session lost'));
      else {
        entry.id = 0;
        entry.sent = false;
      }
    }
  }

  /** Fails every entry; given the durable outbox (`store`), only those it does not keep: presence queries. */
  failAll(error: Error, store?: object): void {
    for (const entry of this.entries) if (!store || entry.kind === 'presence.get') this.forget(entry, error);
  }
}
