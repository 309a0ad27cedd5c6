// What a client process records of a sustained fan-out: per subscriber, that each event is the
// next `seq` (exactly once, in order), and per delivery how long after its publish it arrived,
// in 0.1 ms buckets (millions of deliveries cost no memory). `seq` and `t` are read straight
// from the payload's bytes: parsing each event as JSON would cost the clients more than the
// server's work per delivery.

const BUCKET_MS = 0.1;
const BUCKETS = 100_001; // 0..10 s; the last one is "10 s or more"
const SEQ = Buffer.from('"seq":');
const T = Buffer.from('"t":');

/** The number written at `payload[from]` (digits, one dot, a leading minus), or NaN. */
function numberAt(payload: Buffer, from: number): number {
  let end = from;
  while (end < payload.length) {
    const c = payload[end] as number;
    if ((c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x2d || c === 0x65 || c === 0x2b) end++;
    else break;
  }
  return end === from ? NaN : Number(payload.toString('latin1', from, end));
}

/** The number after `"key":` in `payload`, searched from `from`; NaN when absent. */
function field(payload: Buffer, key: Buffer, from = 0): { value: number; next: number } {
  const at = payload.indexOf(key, from);
  return at === -1 ? { value: NaN, next: from } : { value: numberAt(payload, at + key.length), next: at + key.length };
}

export interface DeliveryTrack {
  /** The last `seq` this subscriber got. */
  last: number;
}

export interface DeliveryReport {
  readonly received: number;
  /** Deliveries that were not the next `seq` of their subscriber (a gap, a repeat, a reorder). */
  readonly outOfOrder: number;
  /** Sparse histogram: [bucket upper edge in ms, count]. */
  readonly buckets: [number, number][];
  readonly firstAt: number;
  readonly lastAt: number;
}

export class DeliveryLog {
  #histogram = new Uint32Array(BUCKETS);
  #received = 0;
  #outOfOrder = 0;
  #firstAt = 0;
  #lastAt = 0;

  /** Starts a step: counters and the histogram from zero. */
  reset(): void {
    this.#histogram = new Uint32Array(BUCKETS);
    this.#received = 0;
    this.#outOfOrder = 0;
    this.#firstAt = 0;
    this.#lastAt = 0;
  }

  get received(): number {
    return this.#received;
  }

  /** One event payload for `track`, received at `now` (CLOCK_MONOTONIC ms). */
  record(track: DeliveryTrack, payload: Buffer, now: number): void {
    const seq = field(payload, SEQ);
    const t = field(payload, T, seq.next).value;
    if (seq.value !== track.last + 1) this.#outOfOrder++;
    track.last = seq.value;
    this.#received++;
    if (this.#firstAt === 0) this.#firstAt = now;
    this.#lastAt = now;
    const bucket = Math.min(BUCKETS - 1, Math.max(0, Math.floor((now - t) / BUCKET_MS)));
    this.#histogram[bucket] = (this.#histogram[bucket] ?? 0) + 1;
  }

  report(): DeliveryReport {
    const buckets: [number, number][] = [];
    this.#histogram.forEach((count, i) => {
      if (count > 0) buckets.push([(i + 1) * BUCKET_MS, count]);
    });
    return { received: this.#received, outOfOrder: this.#outOfOrder, buckets, firstAt: this.#firstAt, lastAt: this.#lastAt };
  }
}

/** The p-th percentile of merged sparse histograms (the bucket's upper edge), ms. */
export function histogramPercentile(buckets: readonly (readonly [number, number])[], p: number): number {
  const merged = new Map<number, number>();
  for (const [edge, count] of buckets) merged.set(edge, (merged.get(edge) ?? 0) + count);
  const sorted = [...merged].sort((a, b) => a[0] - b[0]);
  const total = sorted.reduce((n, [, count]) => n + count, 0);
  if (total === 0) return NaN;
  let seen = 0;
  for (const [edge, count] of sorted) {
    seen += count;
    if (seen >= (p / 100) * total) return edge;
  }
  return sorted.at(-1)?.[0] ?? NaN;
}
