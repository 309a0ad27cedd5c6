import type { BackoffOptions } from '../core/backoff.js';
import { check, defined } from './options.js';

/**
 * Which server refusals are worth another try. `unavailable` (the broker is unreachable) and
 * `failed` (an authorization hook failed) say "try again later" (docs/protocol.md); every other
 * code (`forbidden`, `bad_channel`, `bad_message`, ...) is permanent.
 */
export function isTransientSubscribeRefusal(code: string): boolean {
  return code === 'unavailable' || code === 'failed';
}

/**
 * A publish or request answered `unavailable` was not recorded by the server, so resending it
 * under the same id is safe (it takes effect at most once). A request's `failed` means its
 * handler ran and threw: that reply is stored, so it is not retried.
 */
export function isTransientSendRefusal(code: unknown): boolean {
  return code === 'unavailable';
}

/** The schedule of an automatic retry after a transient refusal: never gives up by itself. */
export const defaultRetryBackoff: BackoffOptions = {
  initialDelay: 500,
  factor: 2,
  maxDelay: 10_000,
  maxAttempts: Infinity,
  jitter: 'full',
};

/** The app's `retry` option over the defaults, checked once; `maxAttempts` stays unlimited whatever it says. */
export function resolveRetryBackoff(options: Partial<BackoffOptions> | undefined): BackoffOptions {
  // A setting given as undefined keeps its default, as the client's options do.
  const resolved = { ...defaultRetryBackoff, ...defined(options ?? {}), maxAttempts: Infinity };
  for (const [name, min] of [['initialDelay', 0], ['factor', 1], ['maxDelay', 0]] as const) check(`retry.${name}`, resolved[name], min);
  return resolved;
}
