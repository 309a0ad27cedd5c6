import type { LifelineClient } from '../client/lifeline-client.js';
import { ReplyError } from '../client/reply-error.js';
import type { Subscription } from '../client/subscription.js';
import type { ConnectEvent } from './connect-printer.js';

/**
 * The channel commands of `lifeline connect` (`/sub`, `/unsub`, `/pub`, `/req`) over a
 * {@link LifelineClient}, and its own events (session, ready, direct messages, errors) as
 * printable records. Every publish, request and subscribe still waiting for its answer is in
 * `pending`, so end of input can wait for them before closing.
 */
export class LifelineCommands {
  readonly #pending = new Set<Promise<unknown>>();

  constructor(
    readonly client: LifelineClient,
    private readonly emit: (event: ConnectEvent) => void,
  ) {
    client.addEventListener('session', (event) => emit({ type: 'session', id: event.id, resumed: event.resumed }));
    client.addEventListener('ready', (event) => emit({ type: 'ready', resumed: event.resumed }));
    client.addEventListener('message', (event) => emit({ type: 'direct', seq: event.seq, data: event.data }));
    client.addEventListener('error', (event) => {
      // The transport's own errors are re-dispatched here too; the session reports those.
      if (event.error instanceof ReplyError) emit({ type: 'error', code: event.error.code, message: event.error.message });
    });
  }

  /** Settles once every answer asked for so far has come (or failed). */
  settled(): Promise<void> {
    return Promise.allSettled([...this.#pending]).then(() => undefined);
  }

  sub(channel: string): void {
    if (this.client.subscriptions.has(channel)) {
      this.emit({ type: 'error', about: `sub ${channel}`, message: 'already subscribed' });
      return;
    }
    let confirmations = 0;
    let sub: Subscription;
    try {
      sub = this.client.subscribe(channel, {
        subscribed: (event) => this.emit({ type: 'subscribed', channel, position: event.position, recovered: event.recovered, again: confirmations++ > 0 }),
        event: (event) => this.emit({ type: 'event', channel, position: event.position, data: event.data }),
        presence: (event) => this.emit({ type: 'presence', channel, action: event.action, client: event.member.client, user: event.member.user }),
        error: (event) => this.emit({ type: 'error', about: `sub ${channel}`, code: event.error.code, message: event.error.message }),
      });
    } catch (error) {
      this.#failed(`sub ${channel}`, error);
      return;
    }
    this.#track(sub.ready());
  }

  unsub(channel: string): void {
    const sub = this.client.subscriptions.get(channel);
    if (!sub) {
      this.emit({ type: 'error', about: `unsub ${channel}`, message: 'not subscribed' });
      return;
    }
    sub.unsubscribe();
    this.emit({ type: 'unsubscribed', channel });
  }

  pub(channel: string, data: unknown): void {
    this.#track(
      this.client.publish(channel, data).then(
        (position) => this.emit({ type: 'ack', channel, position }),
        (error: unknown) => this.#failed(`publish ${channel}`, error),
      ),
    );
  }

  req(method: string, params: unknown): void {
    this.#track(
      this.client.request(method, params).then(
        (result) => this.emit({ type: 'result', method, result }),
        (error: unknown) => this.#failed(`req ${method}`, error),
      ),
    );
  }

  #track(promise: Promise<unknown>): void {
    const tracked = promise.catch(() => undefined).finally(() => this.#pending.delete(tracked));
    this.#pending.add(tracked);
  }

  #failed(about: string, error: unknown): void {
    const code = error instanceof ReplyError ? error.code : undefined;
    this.emit({ type: 'error', about, code, message: error instanceof Error ? error.message : String(error) });
  }
}
