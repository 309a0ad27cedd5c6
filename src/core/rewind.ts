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
export const MAX_REWIND_MS = 604_800_000; // 7 days

const units = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;

/** `50` -> `{count: 50}`, `'2m'` -> `{ms: 120000}`; anything else throws {@link InvalidOptionError}. */
export function parseRewind(spec: RewindSpec): Rewind {
  // A number never matches (no unit); a string that is no age stays a string, which is no integer.
  const age = /^(\d+)(ms|s|m|h)$/.exec(String(spec).trim());
  const value = age ? Number(age[1]) * units[age[2] as keyof typeof units] : spec;
  if (!(Number.isInteger(value) && (value as number) >= 1 && (value as number) <= (age ? MAX_REWIND_MS : MAX_REWIND_COUNT))) throw new InvalidOptionError('rewind', `wants 1-${MAX_REWIND_COUNT} events or an age up to 7 days, like "2m"`);
  return age ? { ms: value as number } : { count: value as number };
}
