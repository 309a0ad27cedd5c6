/** Options of a wait for the link (`opened()`, `ready()`): `signal`, when it aborts, gives up the wait. */
export interface WaitOptions {
  /** Rejects the wait with the signal's `reason` and lets go of it (a signal aborted already rejects at once). */
  readonly signal?: AbortSignal;
}

/**
 * The callers waiting for one moment (the next open, `ready`, `subscribed`). Those without a
 * signal share one pending promise, so an app asking again and again through a long outage adds
 * nothing here; one with a signal has its own, let go of when the signal aborts.
 */
export class Waiters<T> {
  #shared: Promise<T> | undefined;
  /** How to settle each pending promise: `ok` with the value, or not with the error. */
  readonly #held = new Set<(ok: boolean, result: unknown) => void>();

  wait(signal?: AbortSignal): Promise<T> {
    if (!signal && this.#shared) return this.#shared;
    const waiting = new Promise<T>((resolve, reject) => {
      signal?.throwIfAborted();
      const settle = (ok: boolean, result: unknown): void => {
        this.#held.delete(settle);
        signal?.removeEventListener('abort', abort);
        if (ok) resolve(result as T);
        else reject(result);
      };
      const abort = (): void => settle(false, signal?.reason);
      signal?.addEventListener('abort', abort);
      this.#held.add(settle);
    });
    if (!signal) this.#shared = waiting;
    return waiting;
  }

  /** Resolves (`ok`, with `result`) or rejects (with the error `result`) every wait pending. */
  settle(ok: boolean, result?: unknown): void {
    this.#shared = undefined;
    for (const settle of this.#held) settle(ok, result);
  }
}
