import type { Clock } from './clock.js';
import { Timer } from './timer.js';

/**
 * Works through a list in slices spread evenly over a span, one slice at a time: slice `k` of
 * `n` starts `k * span / n` ms after the sweep began, or when slice `k - 1` finished if that is
 * later. So at most one slice's work is in flight however long the list (the keepalive sweep's
 * slices, paced in time and awaited: a broker call per slice, not thousands at once). A sweep
 * asked for while one is under way starts when that one ends (late, never overlapping). A slice
 * not settled within `patience` ms is given up on (its late settling ignored): the sweep goes on,
 * so work that never settles (a request the broker lost) holds it no longer than that.
 *
 * Timeline (slice 2, span 10 s, items A-F): t=0 A,B  t=3.3 C,D  t=6.7 E,F.
 */
interface Sweep<T> {
  readonly items: readonly T[];
  /** The first item not yet handed to a slice. */
  next: number;
  readonly startedAt: number;
  readonly span: number;
}

export class PacedSweep<T> {
  readonly #timer: Timer;
  readonly #slice: number;
  /** The sweep under way. */
  #sweep: Sweep<T> | undefined;
  /** A sweep asked for while one was under way. */
  #queued: { readonly items: readonly T[]; readonly span: number } | undefined;
  /** The slice being waited for (settled or given up on: undefined). */
  #busy: (() => void) | undefined;
  /** Gives up on the slice being waited for. */
  readonly #patience: Timer;

  constructor(
    private readonly clock: Clock,
    slice: number,
    /** One slice's work; a rejection is the caller's to report (the sweep goes on). */
    private readonly work: (items: readonly T[]) => Promise<unknown>,
    /** How long a slice is waited for, ms (unbounded when absent). */
    private readonly patience?: number,
  ) {
    this.#slice = Math.max(1, slice);
    this.#timer = new Timer(clock, () => this.#runSlice());
    this.#patience = new Timer(clock, () => this.#busy?.());
  }

  /** Starts a sweep of `items` spread over `span` ms (after the one under way, if any). */
  start(items: readonly T[], span: number): void {
    if (this.#sweep) {
      this.#queued = { items, span };
      return;
    }
    this.#sweep = { items, next: 0, startedAt: this.clock.now(), span: Math.max(0, span) };
    // A slice of a stopped sweep still in flight: waited for again, within the patience.
    if (this.#busy && this.patience !== undefined && !this.#patience.pending) this.#patience.start(this.patience);
    this.#runSlice();
  }

  /**
   * Drops the sweep under way and any queued one, and leaves no timer: a slice in flight
   * finishes on its own (a sweep started meanwhile waits for it, within its patience).
   */
  stop(): void {
    this.#sweep = undefined;
    this.#queued = undefined;
    this.#timer.stop();
    this.#patience.stop();
  }

  get running(): boolean {
    return this.#sweep !== undefined;
  }

  #runSlice(): void {
    const sweep = this.#sweep;
    if (!sweep || this.#busy) return;
    const end = Math.min(sweep.items.length, sweep.next + this.#slice);
    const items = sweep.items.slice(sweep.next, end);
    sweep.next = end;
    const done = (): void => {
      if (this.#busy !== done) return; // given up on before it settled
      this.#busy = undefined;
      this.#patience.stop();
      if (this.#sweep === sweep) this.#afterSlice(sweep);
      else this.#runSlice(); // stopped and started again meanwhile: the new sweep waited for this slice
    };
    this.#busy = done;
    if (this.patience !== undefined) this.#patience.start(this.patience);
    this.work(items).then(done, done);
  }

  #afterSlice(sweep: Sweep<T>): void {
    if (sweep.next < sweep.items.length) {
      const slices = Math.ceil(sweep.items.length / this.#slice);
      const due = sweep.startedAt + (Math.ceil(sweep.next / this.#slice) * sweep.span) / slices;
      this.#timer.start(due - this.clock.now());
      return;
    }
    this.#sweep = undefined;
    const queued = this.#queued;
    this.#queued = undefined;
    if (queued) this.start(queued.items, queued.span);
  }
}
