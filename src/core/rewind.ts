import { InvalidOptionError } from './errors.js';

/**
 * How far back a new subscriber looks: the last `count` events, those published in the last
 * `ms` milliseconds, or both (both limits then apply). Always within the channel's history.
 */
export interface Rewind {
  readonly count?: number;
  readonly ms?: number;
}

/** What an app writes: `50` (events) or `'2m'` (`ms`, `s`, `m`, `h`). */
export type RewindSpec = number | string;

/** The largest count or age a rewind may name (history is bounded far below either anyway). */
export const MAX_REWIND_COUNT = 10_000;
export const MAX_REWIND_MS = 7 * 24 * 3_600_000;

const units: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** `50` -> `{count: 50}`, `'2m'` -> `{ms: 120000}`; anything else throws {@link InvalidOptionError}. */
export function parseRewind(spec: RewindSpec): Rewind {
  const age = typeof spec === 'string' ? /^(\d{1,9})(ms|s|m|h)$/.exec(spec.trim()) : null;
  const value = typeof spec === 'number' ? spec : age ? Number(age[1]) * (units[age[2] ?? ''] ?? 0) : NaN;
  const max = typeof spec === 'number' ? MAX_REWIND_COUNT : MAX_REWIND_MS;
  if (!Number.isInteger(value) || value < 1 || value > max) throw new InvalidOptionError('rewind', `wants a count of events from 1 to ${MAX_REWIND_COUNT} or an age like "30s", "2m", "1h" up to 7 days (got ${JSON.stringify(spec)})`);
  return typeof spec === 'number' ? { count: value } : { ms: value };
}
