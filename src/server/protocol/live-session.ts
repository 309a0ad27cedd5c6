import type { DirectListener, DirectMessage } from '../../broker/broker.js';
import type { RequestWindow } from '../../core/request-window.js';
import { Session, type ResumeKey, type SessionSettings } from '../../protocol/session.js';
import type { SubscriptionMember } from './subscriptions.js';
import type { PreparedText } from '../prepared-text.js';
import { InputHold, type Connection } from '../connection.js';
import { memberId } from './member-id.js';

export type { ResumeKey } from '../../protocol/session.js';

/** One channel subscription of a session on this node (live events carry their prepared frame), and its fan-out member. */
export type LiveSubscription<User> = SubscriptionMember<User>;

/** Where a session's direct messages go: the registry that serves it (one for all its sessions). */
export interface DirectSink<User> {
  directMessage(session: LiveSession<User>, message: DirectMessage): void;
}

/** What all sessions of a node share, in one object: the settings and where direct messages go. */
export interface LiveSessionHost<User> extends SessionSettings, DirectSink<User> {
  /** Messages queued past this stop the reading of the session's connection until half of them have run. */
  readonly maxQueuedMessages: number;
  /** A session made its window (at its first publish or request). */
  windowMade(session: LiveSession<User>, window: RequestWindow<unknown>): void;
}

/** Where every session's queues start, and where an idle one is back: one settled promise shared by all (memory per idle session). */
const SETTLED: Promise<void> = Promise.resolve();

/**
 * A session while one of its connections is on this node: the protocol core's {@link Session}
 * bound to that connection, with a queue that processes its messages one at a time, in arrival
 * order (docs/protocol.md §5: a publish is in history before the next message is looked at).
 */
export class LiveSession<User> extends Session<User, PreparedText, LiveSubscription<User>> implements DirectListener {
  /** Its queues' last steps, back to the shared settled promise once everything queued has run (an idle session keeps none of its own). */
  #queue: Promise<void> = SETTLED;
  #directs: Promise<void> = SETTLED;
  /** Messages queued and not yet run; negative while the connection is not read for having too many (then minus the count). */
  #queued = 0;
  /** What to undo when it leaves: usually one (its direct-message subscription), kept without an array. */
  #stops: (() => Promise<void>) | (() => Promise<void>)[] | undefined;
  // Its helper is a TypeScript-private method, not a `#` one: V8 stamps every instance of a
  // class with `#` methods with a brand (8 bytes per idle session).
  /** The node's, shared by its sessions; it hears their direct messages (an in-process broker calls {@link directMessage}, no closure per session). */
  declare protected readonly settings: LiveSessionHost<User>;

  constructor(
    id: string,
    user: User,
    window: RequestWindow<unknown> | undefined,
    public connection: Connection<User>,
    /** What resumes it: the digest of its secret, and whether an anonymous connection opened it. */
    resume: ResumeKey,
    host: LiveSessionHost<User>,
    /**
     * The takeover order of this connection's hello (SessionRecord.generation): 0 for a new
     * session, the broker's claim for a resumed one (undefined: the broker claims none).
     */
    readonly generation: number | undefined,
  ) {
    super({ id, user, resume, window, settings: host });
  }

  protected override newWindow(): RequestWindow<unknown> {
    const window = super.newWindow();
    this.settings.windowMade(this, window);
    return window;
  }

  /** A direct message for this session, from the broker. */
  directMessage(message: DirectMessage): void {
    this.settings.directMessage(this, message);
  }

  /** Its connection's phase in the channel protocol, once welcomed (the registry keeps the session as the phase). */
  get phase(): 'ready' {
    return 'ready';
  }

  /** The id other members see in presence (never the session id): derived when asked, not kept (memory per idle session). */
  get member(): string {
    return memberId(this.id);
  }

  /**
   * Runs `work` after everything queued before it; a failure is the work's own to report. With
   * nothing queued it starts at once, in the caller's turn: a message whose steps need no
   * promise (an in-process broker) is then answered before the caller returns, and work that
   * returns nothing (done in this turn) leaves the queue idle, with no promise made.
   */
  enqueue(work: () => Promise<void> | undefined): void {
    this.countQueued(1);
    let ran: Promise<void> | undefined;
    if (this.#queue !== SETTLED) ran = this.#queue.then(work, work);
    else {
      try {
        ran = work();
      } catch {
        ran = undefined; // its own to report, as a rejection would be
      }
      if (ran === undefined) return this.countQueued(-1); // done in this turn: nothing stays queued
    }
    // The last work to finish puts the queue back to idle.
    const idle = (): void => {
      this.countQueued(-1);
      if (this.#queue === queue) this.#queue = SETTLED;
    };
    const queue = ran.then(idle, idle);
    this.#queue = queue;
  }

  /**
   * Counts what is queued: past `maxQueuedMessages` the connection is not read (what the client
   * sends next waits in the network, not in this node's memory) until half of them have run.
   * One number for both (minus the count while not read): memory per session.
   */
  private countQueued(delta: number): void {
    const held = this.#queued < 0;
    const queued = (held ? -this.#queued : this.#queued) + delta;
    const max = this.settings.maxQueuedMessages;
    if (!held && queued > max) {
      this.connection.pauseInput(InputHold.QUEUE);
      this.#queued = -queued;
    } else if (held && queued <= max / 2) {
      this.connection.resumeInput(InputHold.QUEUE);
      this.#queued = queued;
    } else this.#queued = held ? -queued : queued;
  }

  /** Runs a direct-message step after those queued before it; a failure is the step's own to report. */
  direct(step: () => void | Promise<void>): void {
    const next = this.#directs.then(step).catch(() => undefined);
    this.#directs = next;
    void next.then(() => {
      if (this.#directs === next) this.#directs = SETTLED;
    });
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
    const stops = this.#stops;
    if (stops === undefined) this.#stops = stop;
    else if (Array.isArray(stops)) stops.push(stop);
    else this.#stops = [stops, stop];
  }

  async leave(): Promise<void> {
    const stops = this.#stops;
    this.#stops = undefined;
    await Promise.allSettled((stops === undefined ? [] : Array.isArray(stops) ? stops : [stops]).map((stop) => stop()));
  }
}
