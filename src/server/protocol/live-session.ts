import type { Position } from '../../core/position.js';
import type { PreparedText } from '../prepared-text.js';
import { RequestWindow } from '../../core/request-window.js';
import type { Connection } from '../connection.js';
import { memberId } from './member-id.js';

/** What a `hello` must match to resume a session. */
export interface ResumeKey {
  /** SHA-256 (hex) of the session's resume secret. */
  readonly secret: string;
  readonly anonymous: boolean;
}

/** One channel subscription of a session on this node. */
export interface LiveSubscription {
  readonly channel: string;
  /** While the replay is being read, live events wait here (then those after the replay go out). */
  buffer: { readonly message: PreparedText; readonly position: Position }[] | undefined;
  /** The last position sent to the client. */
  last: Position | undefined;
  readonly presence: boolean;
}

/**
 * A session while one of its connections is on this node: who it is, its request-id window,
 * its subscriptions, and a queue that processes its messages one at a time, in arrival order
 * (docs/protocol.md §5: a publish is in history before the next message is looked at).
 */
export class LiveSession<User> {
  readonly subscriptions = new Map<string, LiveSubscription>();
  /** Set when the session leaves this node: work still queued must not join anything anymore. */
  parked = false;
  /** The last direct-message seq sent on this connection. */
  sentSeq = 0;
  /** Its connection is about to be closed for a channel resync: nothing more is delivered on it. */
  resyncing = false;
  #queue: Promise<void> = Promise.resolve();
  #directs: Promise<void> = Promise.resolve();
  readonly #stops: (() => Promise<void>)[] = [];

  /** The id other members see in presence (never the session id). */
  readonly member: string;

  constructor(
    readonly id: string,
    readonly user: User,
    readonly window: RequestWindow<unknown>,
    public connection: Connection<User>,
    /** What resumes it: the digest of its secret, and whether an anonymous connection opened it. */
    readonly resume: ResumeKey,
  ) {
    this.member = memberId(id);
  }

  /** Runs `work` after everything queued before it; a failure is the work's own to report. */
  enqueue(work: () => Promise<void>): Promise<void> {
    this.#queue = this.#queue.then(work, work);
    return this.#queue;
  }

  /** Runs a direct-message step after those queued before it; a failure is the step's own to report. */
  direct(step: () => void | Promise<void>): void {
    this.#directs = this.#directs.then(step).catch(() => undefined);
  }

  /** Resolves once everything queued so far has run, whatever its outcome. */
  drained(): Promise<void> {
    return this.#queue.then(
      () => undefined,
      () => undefined,
    );
  }

  /** Registers a broker subscription (or other teardown) to undo when the session leaves this node. */
  onLeave(stop: () => Promise<void>): void {
    this.#stops.push(stop);
  }

  async leave(): Promise<void> {
    await Promise.allSettled(this.#stops.splice(0).map((stop) => stop()));
  }
}
