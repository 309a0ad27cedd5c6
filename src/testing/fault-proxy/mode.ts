import { InvalidOptionError } from '../../core/errors.js';

/**
 * Shaping faults. They combine: `{ delay: 50, slice: 7 }` holds every chunk 50 ms, then
 * forwards it 7 bytes per write. `{}` is the same as `'pass'`.
 */
export interface Shaping {
  /** Every chunk is forwarded this many ms after it arrived, in both directions, order kept. */
  readonly delay?: number;
  /** Chunks are forwarded at most this many bytes per write, one write per event-loop turn. */
  readonly slice?: number;
  /** Throughput cap per direction, bytes per second. */
  readonly bandwidth?: number;
}

/**
 * What a link does with the bytes it carries.
 * - `'pass'`: forward both ways as they come.
 * - `'blackhole'`: a silent half-open link (a dead NAT, a pulled cable): bytes, FINs and RSTs are
 *   swallowed in both directions and both sockets stay open.
 * - a {@link Shaping}: delay, slice or throttle the bytes.
 */
export type FaultMode = 'pass' | 'blackhole' | Shaping;

/** A mode resolved once into one validated shape; "no limit" is 0 for delay, Infinity otherwise. */
export interface ResolvedMode {
  readonly blackhole: boolean;
  readonly delay: number;
  readonly slice: number;
  readonly bandwidth: number;
}

const PASS: ResolvedMode = Object.freeze({ blackhole: false, delay: 0, slice: Infinity, bandwidth: Infinity });
const BLACKHOLE: ResolvedMode = Object.freeze({ ...PASS, blackhole: true });

function positive(name: string, value: number | undefined, fallback: number, integer: boolean): number {
  if (value === undefined) return fallback;
  const ok = typeof value === 'number' && value > 0 && Number.isFinite(value) && (!integer || Number.isInteger(value));
  if (!ok) throw new InvalidOptionError(name, `must be a ${integer ? 'positive integer' : 'positive finite number'}, got ${String(value)}`);
  return value;
}

const SHAPING_KEYS: ReadonlySet<string> = new Set(['delay', 'slice', 'bandwidth']);

/**
 * Validates a mode; throws {@link InvalidOptionError} before anything changes. A key a
 * {@link Shaping} does not have is refused, named: a misspelt fault (`dealy`) would otherwise
 * shape nothing, and the test using it would test nothing.
 */
export function resolveMode(mode: FaultMode): ResolvedMode {
  if (mode === 'pass') return PASS;
  if (mode === 'blackhole') return BLACKHOLE;
  if (typeof mode !== 'object' || mode === null || Array.isArray(mode)) throw new InvalidOptionError('mode', `must be 'pass', 'blackhole' or { delay?, slice?, bandwidth? }, got ${String(mode)}`);
  const unknown = Object.keys(mode).filter((key) => !SHAPING_KEYS.has(key));
  if (unknown.length > 0) throw new InvalidOptionError('mode', `unknown ${unknown.length === 1 ? 'key' : 'keys'} ${unknown.map((key) => JSON.stringify(key)).join(', ')}: a shaping takes delay, slice and bandwidth`);
  const delay = mode.delay === 0 ? 0 : positive('delay', mode.delay, 0, false);
  return Object.freeze({
    blackhole: false,
    delay,
    slice: positive('slice', mode.slice, Infinity, true),
    bandwidth: positive('bandwidth', mode.bandwidth, Infinity, false),
  });
}
