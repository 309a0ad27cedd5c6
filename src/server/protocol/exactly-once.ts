import type { ChannelEvent, PublishOrigin } from '../../broker/broker.js';
import { BrokerUnavailableError, IdempotencyConflictError } from '../../core/errors.js';
import { Timer } from '../../core/timer.js';
import type { ClientMessageOf } from '../../protocol/client-messages.js';
import { canonicalJson } from '../../protocol/identity.js';
import { CLAIM_MARGIN, type CheckVerdict, type ExchangeStep, type PublishAnswer, type RunOutcome } from '../../protocol/exchange.js';
import type { Connection } from '../connection.js';
import { ask, refusal } from './authorize.js';
import { resolveChannel, type ResolvedChannel } from './channels.js';
import type { HubOptions, RequestContext, RequestHandler } from './hub-options.js';
import type { LiveSession } from './live-session.js';
import { RequestError } from './request-error.js';

/** The host's checks passed (shared: most checks pass, and allocate nothing). */
const GO: CheckVerdict = Object.freeze({ ok: true });

/** What the timer of a running request resolves with: no handler can return it (a handler may well return the string 'timeout'). */
const TIMED_OUT: unique symbol = Symbol('timed out');

export interface ExactlyOnceHost<User> {
  readonly options: HubOptions<User>;
  readonly handlers: ReadonlyMap<string, RequestHandler<User>>;
  /** How long the origin of a client publish is remembered, ms. */
  readonly originTtl: number;
  /**
   * An app's idempotency key, scoped to who publishes; its record counts against `holder`'s
   * quota (the scope itself unless given).
   */
  keyOrigin(scope: string, key: string, data: unknown, holder?: string): PublishOrigin;
}

/** The one key-quota holder of every anonymous connection (never a user's scope, which starts `u:`). */
const ANONYMOUS_HOLDER = 'anonymous';

/**
 * Publishes and requests, exactly once per session id: the session's core decides (window,
 * retries, claims, replies); this performs its steps against the hooks, the handlers and the
 * broker, and feeds the answers back, until the message is answered.
 */
export class ExactlyOnce<User> {
  readonly #running = new WeakMap<Connection<User>, Set<RunningRequest<User>>>();
  /** The channel {@link #channel} resolved last, and what it resolved to. */
  #lastChannel: string | undefined;
  #lastResolved: ResolvedChannel | undefined;

  constructor(private readonly host: ExactlyOnceHost<User>) {}

  /** Answers a publish; returns nothing when it was answered in this turn (an in-process broker), else when it will be. */
  publish(session: LiveSession<User>, message: ClientMessageOf<'publish'>): Promise<void> | undefined {
    return this.#drive(session, message, session.publish(message.id, message.channel));
  }

  /** Answers a request; returns nothing when it was answered in this turn, else when it will be. */
  request(session: LiveSession<User>, message: ClientMessageOf<'request'>): Promise<void> | undefined {
    return this.#drive(session, message, session.request(message.id, message.method));
  }

  /**
   * Performs the steps in order, each answer's next steps before the rest; only broker and app
   * calls wait. While every answer is at hand (an in-process broker, a handler that returns at
   * once) the message is answered in this turn and no promise is made: the session's queue stays
   * idle, and the next message of the same read starts at once too.
   */
  #drive(session: LiveSession<User>, message: ClientMessageOf<'publish' | 'request'>, first: ExchangeStep[]): Promise<void> | undefined {
    const run: Drive = { queue: first, started: undefined };
    let waiting: Promise<ExchangeStep[]> | undefined;
    try {
      waiting = this.#steps(session, message, run);
    } finally {
      if (waiting === undefined) this.#observe(message, run.started);
    }
    return waiting && this.#resume(session, message, run, waiting);
  }

  /** The steps whose answers are at hand; returns the first answer that is promised. */
  #steps(session: LiveSession<User>, message: ClientMessageOf<'publish' | 'request'>, run: Drive): Promise<ExchangeStep[]> | undefined {
    for (let step = run.queue.shift(); step !== undefined; step = run.queue.shift()) {
      if (step.kind === 'run') run.started = this.host.options.clock.now();
      const next = this.#perform(session, message, step);
      if (!Array.isArray(next)) return next;
      followWith(run, next);
    }
    return undefined;
  }

  /** The rest of the steps once an answer was promised, each promised one awaited. */
  async #resume(session: LiveSession<User>, message: ClientMessageOf<'publish' | 'request'>, run: Drive, waiting: Promise<ExchangeStep[]>): Promise<void> {
    try {
      for (let next: Promise<ExchangeStep[]> | undefined = waiting; next !== undefined; next = this.#steps(session, message, run)) followWith(run, await next);
    } finally {
      this.#observe(message, run.started);
    }
  }

  /** A request that ran here is timed from its start to its reply (recorded and sent). */
  #observe(message: ClientMessageOf<'publish' | 'request'>, started: number | undefined): void {
    const { clock, stats } = this.host.options;
    if (started !== undefined && message.type === 'request') stats?.observeRequest(message.method, clock.now() - started);
  }

  #perform(session: LiveSession<User>, message: ClientMessageOf<'publish' | 'request'>, step: ExchangeStep): ExchangeStep[] | Promise<ExchangeStep[]> {
    const { broker, clock, log } = this.host.options;
    const id = step.kind === 'send' ? 0 : step.id;
    switch (step.kind) {
      case 'send':
        session.connection.send(step.text);
        return [];
      case 'record':
        return this.#record(session, id, step.text);
      // Each answer at hand goes straight back to the session; a promised one through a closure.
      case 'check': {
        const verdict = message.type === 'publish' ? this.#checkPublish(session, message) : this.#checkRequest(message);
        return isThenable(verdict) ? Promise.resolve(verdict).then((answer) => session.checked(id, answer)) : session.checked(id, verdict);
      }
      case 'publish': {
        if (message.type !== 'publish') return [];
        const answer = this.#publishOnce(session, message, step.attempt);
        return isThenable(answer) ? answer.then((settled) => session.published(id, settled)) : session.published(id, answer);
      }
      case 'claim': {
        const answer = this.#claim(session, id, (message as ClientMessageOf<'request'>).method);
        return isThenable(answer) ? answer.then((settled) => session.claimed(id, settled)) : session.claimed(id, answer);
      }
      case 'run': {
        if (message.type !== 'request') return [];
        const outcome = this.#run(session, message);
        return isThenable(outcome) ? outcome.then((settled) => session.ran(id, settled)) : session.ran(id, outcome);
      }
      case 'load':
        return broker.loadSession(session.id).then(
          (record) => session.loaded(id, record?.window.replies.find(([replied]) => replied === id)?.[1]),
          () => session.loaded(id, undefined),
        );
      case 'wait':
        return new Promise<void>((resolve) => clock.setTimeout(resolve, step.ms)).then(() => session.fired(id));
      case 'fault':
        log.error({ err: step.error, method: (message as { method?: string }).method }, 'request handler failed');
        return [];
    }
  }

  /** Records a reply in the broker; a failure is logged, and the reply still goes out. */
  #record(session: LiveSession<User>, id: number, text: string): ExchangeStep[] | Promise<ExchangeStep[]> {
    const { broker, log, windowSize } = this.host.options;
    const recorded = (): ExchangeStep[] => [];
    const unrecorded = (error: unknown): ExchangeStep[] => {
      // The effect happened (the event is stored, the handler ran): the client is told. This
      // node still answers a resend from its own window; another node would not know the reply.
      log.warn({ err: error, session: session.id, id }, 'reply not recorded in the broker');
      return [];
    };
    try {
      const { immediate } = broker;
      if (immediate) {
        immediate.recordReply(session.id, id, text, windowSize);
        return recorded();
      }
      return broker.recordReply(session.id, id, text, windowSize).then(recorded, unrecorded);
    } catch (error) {
      return unrecorded(error); // a broker that threw instead of rejecting (or an immediate one that failed)
    }
  }

  /** The channel and the app's hook; without a hook, decided at once. */
  #checkPublish(session: LiveSession<User>, message: ClientMessageOf<'publish'>): CheckVerdict | Promise<CheckVerdict> {
    const { channel, data } = message;
    const { options } = this.host;
    if (!this.#channel(channel)) return { ok: false, code: 'bad_channel', message: `no namespace allows channel "${channel}"`, record: true };
    if (!options.canPublish) return GO;
    return ask(options.log, () => options.canPublish?.({ user: session.user, session: session.id, channel, data })).then((allowed): CheckVerdict => {
      // A failing hook published nothing: answered, not recorded, so a resend may try again.
      if (allowed === 'failed') return { ok: false, code: 'failed', message: 'the publish could not be checked; nothing was published', record: false };
      if (allowed !== true) return { ok: false, code: 'forbidden', message: refusal(allowed, `not allowed to publish to "${channel}"`), record: true };
      return GO;
    });
  }

  #checkRequest(message: ClientMessageOf<'request'>): CheckVerdict {
    const { method } = message;
    if (!this.host.handlers.has(method)) return { ok: false, code: 'no_method', message: `no handler for "${method}"`, record: true };
    // Its reply could not be recorded for a resend: refuse before anything runs (not recorded, so a resend may try again).
    if (this.host.options.broker.isReady?.() === false) return { ok: false, code: 'unavailable', message: `"${method}" was not run: the server's broker is unreachable`, record: false };
    return GO;
  }

  /** The broker's publish: answered at once by an in-process broker, else when its promise settles. */
  #publishOnce(session: LiveSession<User>, message: ClientMessageOf<'publish'>, attempt: number): PublishAnswer | Promise<PublishAnswer> {
    const { channel, data, id, idempotencyKey } = message;
    const { broker } = this.host.options;
    const history = this.#channel(channel)?.history ?? NO_HISTORY;
    // The origin makes a resend that reaches another node before this reply was recorded return
    // this event instead of publishing a second one; it also makes retrying here safe.
    // Keys stay scoped to the user; anonymous connections (a user made up for each one, as
    // `lifeline serve --allow-anonymous` does) share one quota, or each new one would bring a
    // fresh quota and push everyone's records out of the node-wide cap.
    const origin = idempotencyKey === undefined ? { session: session.id, id, ttl: this.host.originTtl } : this.#keyOrigin(session, idempotencyKey, data);
    try {
      const { immediate } = broker;
      if (immediate) return stored(immediate.publish(channel, data, history, origin));
      return broker.publish(channel, data, history, origin).then(stored, (error: unknown) => this.#publishFailed(error, channel, attempt));
    } catch (error) {
      return this.#publishFailed(error, channel, attempt); // a broker that threw instead of rejecting (or an immediate one that failed)
    }
  }

  /**
   * A channel's options, the last one's kept: a publish asks twice (its check, then its history),
   * and a client's next publish usually goes to the same channel.
   */
  #channel(channel: string): ResolvedChannel | undefined {
    if (channel !== this.#lastChannel) {
      this.#lastResolved = resolveChannel(this.host.options.channels, channel);
      this.#lastChannel = channel;
    }
    return this.#lastResolved;
  }

  /** A client's idempotency key: scoped to its user, held by that user (or by every anonymous connection together). */
  #keyOrigin(session: LiveSession<User>, key: string, data: unknown): PublishOrigin {
    const scope = `u:${canonicalJson(session.user ?? null)}`;
    return this.host.keyOrigin(scope, key, data, session.connection.anonymous ? ANONYMOUS_HOLDER : scope);
  }

  #publishFailed(error: unknown, channel: string, attempt: number): PublishAnswer {
    if (error instanceof IdempotencyConflictError) return { kind: 'conflict', message: error.message };
    this.host.options.log.error({ err: error, channel, attempt }, 'broker publish failed');
    return { kind: 'failed', maybe: error instanceof BrokerUnavailableError && error.sent };
  }

  /**
   * A resend may reach this node while the first copy still runs on another one (the client
   * moved): the claim makes this copy wait for that one's reply instead of running twice.
   */
  #claim(session: LiveSession<User>, id: number, method: string): boolean | 'failed' | Promise<boolean | 'failed'> {
    const { broker, requestTimeout, log } = this.host.options;
    const failed = (error: unknown): 'failed' => {
      log.error({ err: error, method }, 'request not run: broker unavailable');
      return 'failed';
    };
    const ttl = requestTimeout + CLAIM_MARGIN;
    try {
      const { immediate } = broker;
      if (immediate) return immediate.claimRequest(session.id, id, ttl);
      return broker.claimRequest(session.id, id, ttl).then(undefined, failed);
    } catch (error) {
      return failed(error);
    }
  }

  /** A handler that answers at once is not raced against the timeout (nothing to time out): no timer, no promise. */
  #run(session: LiveSession<User>, message: ClientMessageOf<'request'>): RunOutcome | Promise<RunOutcome> {
    const handler = this.host.handlers.get(message.method);
    if (!handler) return { kind: 'failed' };
    const { connection } = session;
    const inflight = this.#inflight(connection);
    const running = new RunningRequest<User>(session.id, session.user, connection);
    inflight.add(running); // aborted if the connection closes; removed when the request ends
    let answer: unknown;
    try {
      answer = handler(message.params, running);
    } catch (error) {
      inflight.delete(running);
      return this.#thrown(message.method, error);
    }
    if (!isThenable(answer)) {
      inflight.delete(running);
      return { kind: 'result', data: answer };
    }
    return this.#awaitRun(message.method, answer, running, inflight);
  }

  async #awaitRun(method: string, answer: PromiseLike<unknown>, running: RunningRequest<User>, inflight: Set<RunningRequest<User>>): Promise<RunOutcome> {
    const { clock, requestTimeout } = this.host.options;
    let timer: Timer | undefined;
    const timedOut = new Promise<typeof TIMED_OUT>((resolve) => {
      timer = new Timer(clock, () => resolve(TIMED_OUT));
      timer.start(requestTimeout);
    });
    try {
      const outcome = await Promise.race([answer, timedOut]);
      if (outcome !== TIMED_OUT) return { kind: 'result', data: outcome };
      running.abort();
      return { kind: 'timeout' };
    } catch (error) {
      return this.#thrown(method, error);
    } finally {
      timer?.stop();
      inflight.delete(running);
    }
  }

  #thrown(method: string, error: unknown): RunOutcome {
    if (error instanceof RequestError) return { kind: 'refused', code: error.code, message: error.message };
    this.host.options.log.error({ err: error, method }, 'request handler failed');
    return { kind: 'failed' };
  }

  /** The requests running for `connection`, all aborted when it closes (one cleanup per connection). */
  #inflight(connection: Connection<User>): Set<RunningRequest<User>> {
    let set = this.#running.get(connection);
    if (!set) {
      const controllers = new Set<RunningRequest<User>>();
      connection.own(() => {
        for (const controller of controllers) controller.abort();
      });
      this.#running.set(connection, (set = controllers));
    }
    return set;
  }
}

/**
 * A running request: the context its handler gets, and its abort signal, made only when the
 * handler asks for it (most never do). A class with `signal` on its prototype: an object literal
 * with a getter cost about 1.7 µs per request to create (V8 defines the accessor at run time).
 */
class RunningRequest<User> implements RequestContext<User> {
  #controller: AbortController | undefined;
  #aborted = false;

  constructor(
    readonly session: string,
    readonly user: User,
    readonly connection: Connection<User>,
  ) {}

  get signal(): AbortSignal {
    const controller = (this.#controller ??= new AbortController());
    if (this.#aborted && !controller.signal.aborted) controller.abort();
    return controller.signal;
  }

  abort(): void {
    this.#aborted = true;
    this.#controller?.abort();
  }
}

/** One message's steps still to perform, and when its handler started (a request's, for the stats). */
interface Drive {
  queue: ExchangeStep[];
  started: number | undefined;
}

/** An answer's next steps go before the steps still queued. */
function followWith(run: Drive, steps: ExchangeStep[]): void {
  if (run.queue.length === 0) run.queue = steps;
  else if (steps.length > 0) run.queue.unshift(...steps);
}

/** A channel no namespace gives history to. */
const NO_HISTORY = Object.freeze({ size: 0, ttl: 0 });

/** A broker's stored event, as the session takes it. */
function stored(event: ChannelEvent): PublishAnswer {
  return { kind: 'stored', position: { epoch: event.epoch, offset: event.offset } };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}
