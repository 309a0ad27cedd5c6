import type { Clock } from '../core/clock.js';
import { withBit } from '../core/bit-flags.js';
import type { Envelope } from '../core/envelope.js';
import type { Position } from '../core/position.js';
import { nothingRemembered, RequestWindow, type RequestWindowState } from '../core/request-window.js';
import { CLAIM_MARGIN, ELSEWHERE_POLL, PUBLISH_RETRIES, PUBLISH_RETRY_DELAY, type CheckVerdict, type Exchange, type ExchangeStep, type PublishAnswer, type RunOutcome } from './exchange.js';
import type { ServerReplyCode } from './reply-code.js';
import { ackText, directText, errorReply, eventText, subscribedText } from './server-messages.js';
import { ordered, type CatchUp, type Delivery, type SubscriptionState } from './subscription-state.js';

/** What resumes a session: the digest of its secret, and whether an anonymous connection opened it. */
export interface ResumeKey {
  readonly secret: string;
  readonly anonymous: boolean;
}

/** What every session of a server shares: one object for all of them (memory per idle session). */
export interface SessionSettings {
  readonly clock: Clock;
  /** How long a request handler may run, ms. */
  readonly requestTimeout: number;
  /** How many replies a session's window keeps. */
  readonly windowSize: number;
}

export interface SessionInit<User> {
  readonly id: string;
  readonly user: User;
  readonly resume: ResumeKey;
  /** What it remembers of processed ids; undefined: nothing yet (the window is made at its first publish or request). */
  readonly window: RequestWindow<unknown> | undefined;
  readonly settings: SessionSettings;
}

/** A session's yes/no state, as bits of one number (three fields held 16 bytes more per session). */
const ANONYMOUS = 1;
const PARKED = 2;
const RESYNCING = 4;

/** What a catch-up sends, in order: wire texts, live events that waited (their payload as the fan-out made it), or a resync. */
export type CatchUpStep<Payload> = { readonly kind: 'send'; readonly text: string } | { readonly kind: 'event'; readonly payload: Payload } | { readonly kind: 'resync' };

/** Every session's exchanges until its first: never written to (only a session's own map is). */
const NO_EXCHANGES: ReadonlyMap<number, Exchange> = new Map();

/** A session's subscriptions: none, its one (most sessions have one), or a map of them from the second on. */
type SubscriptionSlot<Sub> = Sub | Map<string, Sub> | undefined;

/**
 * One lifeline.v1 session on the server, without I/O: its request-id window and the exactly-once
 * exchanges in flight, its subscriptions with what each was sent, and its direct-message
 * sequence. Messages and broker answers go in; what to send, what to ask the broker and how long
 * to wait come out (docs/topics/protocol-core.md).
 */
export class Session<User, Payload = string, Sub extends SubscriptionState<Payload> = SubscriptionState<Payload>> {
  readonly id: string;
  readonly user: User;
  /**
   * Undefined while the session remembers nothing: made at its first publish or request (most
   * sessions only subscribe), so an idle one holds no window (memory per idle session).
   */
  #window: RequestWindow<unknown> | undefined;
  /** What resumes it: the digest of its secret (and, in {@link #flags}, whether an anonymous connection opened it). */
  readonly #secret: string;
  /** Kept inline while there is one (a `Map` of one entry holds about 180 bytes): memory per idle session. */
  #subscriptions: SubscriptionSlot<Sub>;
  /** The last direct-message seq sent on this connection. */
  sentSeq = 0;
  /** ANONYMOUS, PARKED and RESYNCING. */
  #flags: number;
  /** The shared empty map until the first publish or request: most sessions only subscribe. */
  #exchanges: ReadonlyMap<number, Exchange> = NO_EXCHANGES;
  /** The server's, shared by all its sessions. */
  protected readonly settings: SessionSettings;
  // Its helper methods are TypeScript-private, not `#` methods: V8 stamps every instance of a
  // class with `#` methods with a brand (8 bytes per idle session).

  constructor(init: SessionInit<User>) {
    this.id = init.id;
    this.user = init.user;
    this.#secret = init.resume.secret;
    this.#flags = init.resume.anonymous ? ANONYMOUS : 0;
    this.#window = init.window;
    this.settings = init.settings;
  }

  /** Its request-id window, made now if it had none. */
  get window(): RequestWindow<unknown> {
    return (this.#window ??= this.newWindow());
  }

  /** Its window if one was made (none while it remembers nothing). */
  get madeWindow(): RequestWindow<unknown> | undefined {
    return this.#window;
  }

  /** The highest id processed (0 while it remembers nothing). */
  get acked(): number {
    return this.#window?.acked ?? 0;
  }

  /** What its window holds, without making one. */
  windowState(): RequestWindowState<unknown> {
    return this.#window?.snapshot() ?? nothingRemembered();
  }

  /** Makes its window, at the first need. */
  protected newWindow(): RequestWindow<unknown> {
    return new RequestWindow<unknown>(this.settings.windowSize);
  }

  /** What resumes it: the digest of its secret, and whether an anonymous connection opened it (a new record each time). */
  get resume(): ResumeKey {
    return { secret: this.#secret, anonymous: (this.#flags & ANONYMOUS) !== 0 };
  }

  /** Set when the session leaves this node: work still queued must not join anything anymore. */
  get parked(): boolean {
    return (this.#flags & PARKED) !== 0;
  }

  set parked(parked: boolean) {
    this.#flags = withBit(this.#flags, PARKED, parked);
  }

  /** Its connection is about to be closed for a channel resync: nothing more is delivered on it. */
  get resyncing(): boolean {
    return (this.#flags & RESYNCING) !== 0;
  }

  set resyncing(resyncing: boolean) {
    this.#flags = withBit(this.#flags, RESYNCING, resyncing);
  }

  // ---- exactly once: publish and request ---------------------------------------------------------

  /** A `publish`: answered from the window when its id was processed, else checked by the host. */
  publish(id: number, channel: string): ExchangeStep[] {
    return this.begin(id, { type: 'publish', channel, attempt: 0, outcome: 'unsent', waiting: 0 });
  }

  /** A `request`: answered from the window when its id was processed, else checked by the host. */
  request(id: number, method: string): ExchangeStep[] {
    return this.begin(id, { type: 'request', method, deadline: 0, waiting: 0 });
  }

  checked(id: number, verdict: CheckVerdict): ExchangeStep[] {
    const exchange = this.#exchanges.get(id);
    if (!exchange) return [];
    if (!verdict.ok) return verdict.record ? this.reply(id, errorReply(id, verdict.code, verdict.message)) : this.unrecorded(id, verdict.code, verdict.message);
    return exchange.type === 'publish' ? [{ kind: 'publish', id, attempt: 0 }] : [{ kind: 'claim', id }];
  }

  published(id: number, answer: PublishAnswer): ExchangeStep[] {
    const exchange = this.#exchanges.get(id);
    if (exchange?.type !== 'publish') return [];
    if (answer.kind === 'stored') return this.recorded(id, ackText(id, answer.position));
    if (answer.kind === 'conflict') return this.reply(id, errorReply(id, 'idempotency_conflict', answer.message));
    // Only a command that may have run is worth asking about again (it answers with the stored event).
    if (answer.maybe) {
      exchange.outcome = 'unknown';
      if (exchange.attempt < PUBLISH_RETRIES) return [{ kind: 'wait', id, ms: PUBLISH_RETRY_DELAY }];
    }
    // Not recorded, so a resend of this id may try again (and cannot publish twice).
    return this.unrecorded(
      id,
      'unavailable',
      exchange.outcome === 'unsent' ? 'the message could not be published; nothing was published' : 'the broker did not answer: the message may have been published; resend it with the same id to know',
    );
  }

  /** `'failed'`: the broker could not be asked; nothing ran. */
  claimed(id: number, answer: boolean | 'failed'): ExchangeStep[] {
    const exchange = this.#exchanges.get(id);
    if (exchange?.type !== 'request') return [];
    if (answer === 'failed') return this.unrecorded(id, 'unavailable', `"${exchange.method}" was not run: the server's broker is unreachable`);
    if (answer) return [{ kind: 'run', id }];
    // A copy runs on another node (the client moved): wait for the reply it records, for as long as that run may take.
    exchange.deadline = this.settings.clock.now() + this.settings.requestTimeout + CLAIM_MARGIN;
    return this.pollElsewhere(id, exchange);
  }

  ran(id: number, outcome: RunOutcome): ExchangeStep[] {
    const exchange = this.#exchanges.get(id);
    if (exchange?.type !== 'request') return [];
    const { method } = exchange;
    switch (outcome.kind) {
      case 'timeout':
        return this.reply(id, errorReply(id, 'timeout', `"${method}" did not finish in ${this.settings.requestTimeout} ms; its effect is unknown`));
      case 'refused':
        return this.reply(id, errorReply(id, outcome.code, outcome.message));
      case 'failed':
        return this.reply(id, errorReply(id, 'failed', `"${method}" failed`));
      case 'result':
        try {
          return this.reply(id, { type: 'result', id, data: outcome.data === undefined ? null : outcome.data });
        } catch (error) {
          // A result JSON cannot carry is the handler's bug: reported as failed.
          return [{ kind: 'fault', id, error }, ...this.reply(id, errorReply(id, 'failed', `"${method}" failed`))];
        }
    }
  }

  /** A `wait` is over. */
  fired(id: number): ExchangeStep[] {
    const exchange = this.#exchanges.get(id);
    if (!exchange) return [];
    if (exchange.type === 'request') return [{ kind: 'load', id }];
    exchange.attempt++;
    return [{ kind: 'publish', id, attempt: exchange.attempt }];
  }

  /** What the broker holds of request `id`'s reply, recorded by the node that ran it (undefined: nothing yet, or unreadable). */
  loaded(id: number, reply: unknown): ExchangeStep[] {
    const exchange = this.#exchanges.get(id);
    if (exchange?.type !== 'request') return [];
    if (reply !== undefined) {
      this.window.record(id, reply);
      return this.settle(id, typeof reply === 'string' ? reply : JSON.stringify(reply));
    }
    return this.pollElsewhere(id, exchange);
  }

  /** Ids whose exchange has not been answered yet. */
  get inFlight(): number {
    return this.#exchanges.size;
  }

  private begin(id: number, exchange: Exchange): ExchangeStep[] {
    const running = this.#exchanges.get(id);
    if (running) {
      // A copy of an id still in flight gets the first copy's answer when it comes.
      running.waiting++;
      return [];
    }
    const verdict = this.window.check(id);
    if (verdict.kind === 'repeat') return [{ kind: 'send', text: verdict.reply as string }];
    if (verdict.kind === 'expired') return [{ kind: 'send', text: JSON.stringify(errorReply(id, 'expired', 'this id is older than the session remembers')) }];
    this.ownExchanges().set(id, exchange);
    return [{ kind: 'check', id }];
  }

  /** This session's own map of exchanges, made at its first one (kept: a session that sent one will send more). */
  private ownExchanges(): Map<number, Exchange> {
    if (this.#exchanges === NO_EXCHANGES) this.#exchanges = new Map<number, Exchange>();
    return this.#exchanges as Map<number, Exchange>;
  }

  private pollElsewhere(id: number, exchange: Exchange & { readonly type: 'request' }): ExchangeStep[] {
    if (this.settings.clock.now() < exchange.deadline && !this.parked) return [{ kind: 'wait', id, ms: ELSEWHERE_POLL }];
    if (this.parked) {
      this.ownExchanges().delete(id);
      return [];
    }
    // A node that died mid-run leaves no reply: its effect is unknown, as for a run that did not finish in time here.
    return this.reply(id, errorReply(id, 'timeout', `"${exchange.method}" was running on another server that did not answer; its effect is unknown`));
  }

  /**
   * Records the reply (in the broker, before the client hears it), then sends it. It is kept as
   * its wire text: serialized once, and immune to a handler changing its result afterwards.
   * Throws a TypeError, recording nothing, for a reply JSON cannot carry.
   */
  private reply(id: number, reply: Envelope): ExchangeStep[] {
    return this.recorded(id, JSON.stringify(reply));
  }

  /** Records a reply's wire text, then sends it (see {@link reply}). */
  private recorded(id: number, text: string): ExchangeStep[] {
    this.window.record(id, text);
    const steps: ExchangeStep[] = [{ kind: 'record', id, text }];
    return this.settle(id, text, steps);
  }

  /** Answers without recording: a resend of this id may try again. */
  private unrecorded(id: number, code: ServerReplyCode, message: string): ExchangeStep[] {
    return this.settle(id, JSON.stringify(errorReply(id, code, message)));
  }

  /** Ends exchange `id`: its text goes to the client, once per copy that waited for it (after `steps`). */
  private settle(id: number, text: string, steps: ExchangeStep[] = []): ExchangeStep[] {
    const waiting = this.#exchanges.get(id)?.waiting ?? 0;
    this.ownExchanges().delete(id);
    steps.push({ kind: 'send', text });
    for (let copy = 0; copy < waiting; copy++) steps.push({ kind: 'send', text });
    return steps;
  }

  // ---- subscriptions and catch-up -------------------------------------------------------------

  /** The current subscription to `channel`, if any. */
  subscription(channel: string): Sub | undefined {
    const subs = this.#subscriptions;
    if (subs instanceof Map) return subs.get(channel);
    return subs?.channel === channel ? subs : undefined;
  }

  /** How many channels the session is subscribed to. */
  get subscriptionCount(): number {
    const subs = this.#subscriptions;
    return subs instanceof Map ? subs.size : subs === undefined ? 0 : 1;
  }

  /** Whether a current subscription asked for presence (no list made: the refresh asks every session). */
  get wantsPresence(): boolean {
    const subs = this.#subscriptions;
    if (!(subs instanceof Map)) return subs?.presence === true;
    for (const sub of subs.values()) if (sub.presence) return true;
    return false;
  }

  /** The current subscriptions, in the order they were made (a copy). */
  subscriptionList(): Sub[] {
    const subs = this.#subscriptions;
    return subs instanceof Map ? [...subs.values()] : subs === undefined ? [] : [subs];
  }

  /**
   * Starts a subscription (its state as {@link newSubscription} makes it, or a host's object that
   * carries it): live events wait in its buffer until the catch-up is sent.
   */
  subscribe(sub: Sub): Sub {
    const { channel } = sub;
    const subs = this.#subscriptions;
    if (subs === undefined || (!(subs instanceof Map) && subs.channel === channel)) this.#subscriptions = sub;
    else if (subs instanceof Map) subs.set(channel, sub);
    else this.#subscriptions = new Map([[subs.channel, subs], [channel, sub]]);
    return sub;
  }

  /** Ends a subscription (if it is still this session's current one for its channel). */
  unsubscribe(sub: Sub): void {
    const subs = this.#subscriptions;
    if (subs === sub) this.#subscriptions = undefined;
    else if (subs instanceof Map && subs.get(sub.channel) === sub) subs.delete(sub.channel);
  }

  /**
   * The broker's catch-up for subscribe `id`: the missed events (when recovered), `subscribed`,
   * then the live events that arrived meanwhile, each once and in order.
   */
  caughtUp(sub: SubscriptionState<Payload>, id: number, recovery: CatchUp): CatchUpStep<Payload>[] {
    const steps: CatchUpStep<Payload>[] = [];
    if (recovery.recovered) for (const event of recovery.events) steps.push({ kind: 'send', text: eventText(sub.channel, event) });
    sub.last = recovery.position;
    steps.push({ kind: 'send', text: subscribedText(id, sub.channel, recovery.position, recovery.recovered) });
    const buffered = sub.buffer ?? [];
    sub.buffer = undefined;
    for (const item of buffered) {
      const delivery = this.deliver(sub, item.payload, item.position);
      if (delivery === 'send') steps.push({ kind: 'event', payload: item.payload });
      else if (delivery === 'resync') steps.push({ kind: 'resync' });
    }
    return steps;
  }

  /** A live event for `sub` (the fast path: no allocation but a buffered one). */
  deliver(sub: SubscriptionState<Payload>, payload: Payload, position: Position): Delivery {
    if (sub.buffer) {
      sub.buffer.push({ payload, position });
      return 'buffered';
    }
    if (this.resyncing) return 'skip';
    const verdict = ordered(sub, position);
    if (verdict !== 'gap') return verdict;
    this.resyncing = true;
    return 'resync';
  }

  // ---- direct messages ---------------------------------------------------------------------------

  /** A direct message for this session: its wire text, or undefined when that seq was sent already. */
  acceptDirect(seq: number, data: unknown): string | undefined {
    if (seq <= this.sentSeq) return undefined;
    this.sentSeq = seq;
    return directText(seq, data);
  }
}
