import type { Clock } from '../core/clock.js';

/** Real key expiry outlives logical expiry by this much, so clock skew between nodes cannot cut a record short, ms. */
export const BACKSTOP = 5_000;

/** Logical expiry (on the injected clock) and the real key ttl that backs it up; `inf` for no expiry. */
export function expiry(clock: Clock, ttl: number): { readonly expiresAt: string; readonly realTtl: string } {
  if (!Number.isFinite(ttl)) return { expiresAt: 'inf', realTtl: '' };
  return { expiresAt: String(clock.now() + ttl), realTtl: String(Math.ceil(ttl) + BACKSTOP) };
}
