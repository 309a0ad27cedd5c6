import type { Clock } from '../core/clock.js';
import { InvalidOptionError } from '../core/errors.js';
import { Timer } from '../core/timer.js';

/** What a token refresh needs from its client: the clock, how to send the new token, how to report a failure. */
export interface TokenRefreshHost {
  readonly clock: Clock;
  send(token: string): void;
  failed(error: unknown): void;
}

/**
 * The `refreshToken` option of a {@link LifelineClient}: made by {@link withTokenRefresh}, so an
 * app that does not refresh tokens bundles none of the refresh code.
 */
export interface TokenRefreshOption {
  /** Starts the token refresh of a client (called by the client, not by apps). */
  attach(host: TokenRefreshHost): TokenRefresh;
}

/**
 * Token refresh for a {@link LifelineClient}, as an opt-in module: `refreshToken:
 * withTokenRefresh(provider)`, `provider` giving a fresh token for the same user. When `welcome`
 * says when the credentials expire, it is called before then and its token sent as `refresh`.
 * (The Node entry also takes the provider bare.)
 *
 * @example
 * const client = new LifelineClient(url, { refreshToken: withTokenRefresh(() => fetchToken()) });
 */
export function withTokenRefresh(provider: () => Promise<string>): TokenRefreshOption {
  if (typeof provider !== 'function') throw new InvalidOptionError('refreshToken', 'the provider must be a function');
  return { attach: (host) => new TokenRefresh(provider, host) };
}

/**
 * docs/protocol.md §8, the client's half: with a `refreshToken` provider, a fresh token goes out
 * before the credentials expire, at `expiresAt` minus a margin of 10 % of the time left (at most
 * 30 s; at once when already due). `expiresAt` is on the server's clock: wall-clock ms, like the
 * default clock's. A token fetched for a link that has ended since is not sent.
 *
 * @example
 * const refresh = new TokenRefresh(() => fetchToken(), { clock, send: (token) => ws.send(...), failed: report });
 * refresh.expiresAt(welcome.expiresAt); // on welcome and on every `refreshed`
 * refresh.stop(); // the link ended
 */
export class TokenRefresh {
  readonly #timer: Timer;
  readonly #clock: Clock;
  /** Bumped by stop(): a provider answering after it belongs to an ended link. */
  #epoch = 0;

  constructor(provider: () => Promise<string>, host: TokenRefreshHost) {
    this.#clock = host.clock;
    this.#timer = new Timer(host.clock, () => {
      const epoch = this.#epoch;
      // Through a promise, so a provider that throws is reported too.
      Promise.resolve()
        .then(provider)
        .then((token) => epoch === this.#epoch && host.send(token), host.failed);
    });
  }

  /** The server said when the credentials expire (welcome, refreshed): schedules the refresh. Ignores a missing value. */
  expiresAt(expiresAt: unknown): void {
    if (typeof expiresAt !== 'number') return;
    const left = expiresAt - this.#clock.now();
    this.#timer.start(Math.max(left - 30_000, left * 0.9));
  }

  /** The link ended or the client closed: nothing more goes out for it. */
  stop(): void {
    this.#epoch++;
    this.#timer.stop();
  }
}
