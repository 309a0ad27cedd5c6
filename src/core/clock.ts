/**
 * Time and randomness are ports: the core never calls `setTimeout`, `Date.now()` or
 * `Math.random()` itself, so every timing rule can be tested with a fake clock and a seeded rng.
 */

/** An opaque handle returned by {@link Clock.setTimeout}. */
export type TimerHandle = { readonly __timer: unique symbol } | number | object;

/** The clock every timer in Lifeline runs on. */
export interface Clock {
  /** Milliseconds on a monotonic-enough scale; only differences are meaningful. */
  now(): number;
  /**
   * `keepAlive`: in Node, this timer alone keeps the process running (a scheduled reconnect is
   * the app's intent to be connected). Without it, a pending timer does not.
   */
  setTimeout(fn: () => void, ms: number, keepAlive?: boolean): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** A source of uniformly distributed numbers in [0, 1). */
export type Rng = () => number;

/**
 * The longest delay platform timers honour (2^31 - 1 ms, about 24.8 days); a longer one fires
 * after 1 ms in Node and browsers alike, so longer waits are clamped to it.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The platform clock (works in Node and browsers). */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms, keepAlive = false) => {
    const handle = globalThis.setTimeout(fn, Math.min(ms, MAX_TIMER_MS));
    // In Node, a pending keepalive or expiry timer alone must not keep the process alive past
    // the app's own intent; the socket it guards already does that while it is open. A
    // scheduled reconnect is that intent (`await ws.opened()` during a backoff must not end the
    // process), so it asks to be kept.
    if (!keepAlive) (handle as { unref?: () => void }).unref?.();
    return handle as TimerHandle;
  },
  clearTimeout: (handle) => globalThis.clearTimeout(handle as Parameters<typeof globalThis.clearTimeout>[0]),
};

/** The platform rng. */
// eslint-disable-next-line no-restricted-syntax -- the single place the platform rng is read
export const systemRng: Rng = () => Math.random();

/**
 * A small seeded generator (mulberry32): deterministic, fast, good enough for jitter and
 * for test schedules; not for cryptography.
 */
export function seededRng(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
