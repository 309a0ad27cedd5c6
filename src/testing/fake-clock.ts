import { MAX_TIMER_MS, type Clock, type TimerHandle } from '../core/clock.js';

interface Scheduled {
  readonly id: number;
  readonly due: number;
  readonly fn: () => void;
  /** What setTimeout returned: clearTimeout finds a timer by this object, never by a number another clock may have given too. */
  readonly handle: TimerHandle;
}

/**
 * A clock that moves only when told. Timers run in due order (ties in scheduling order), and
 * timers scheduled while advancing run too if they fall due within the advance.
 *
 * @example
 * const clock = new FakeClock();
 * const client = new ReconnectingWebSocket(url, undefined, { clock });
 * await clock.tickAsync(1_000); // run every timer due in the next second
 */
export class FakeClock implements Clock {
  #now: number;
  #nextId = 1;
  #timers: Scheduled[] = [];

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  /** As Node's: a callback that is not a function throws a TypeError now, not when it falls due. */
  setTimeout(fn: () => void, ms: number): TimerHandle {
    if (typeof fn !== 'function') throw new TypeError(`FakeClock: the callback must be a function (got ${typeof fn})`);
    const id = this.#nextId++;
    const handle = { id };
    this.#timers.push({ id, due: this.#now + delayOf(ms), fn, handle });
    return handle;
  }

  /**
   * As the platform's: a handle this clock did not give (undefined, null, a number, another
   * clock's) or whose timer already ran or was cleared is ignored.
   */
  clearTimeout(handle: TimerHandle | null | undefined): void {
    this.#timers = this.#timers.filter((timer) => timer.handle !== handle);
  }

  /** Timers not yet run. */
  get pending(): number {
    return this.#timers.length;
  }

  /** Due time of the next timer, if any. */
  get nextDue(): number | undefined {
    return this.#earliest()?.due;
  }

  /**
   * Advances `ms`, running every timer that falls due, synchronously. A timer that throws does
   * not stop the advance (as with @sinonjs/fake-timers): every other timer due runs and time
   * reaches the target, then the first error thrown is thrown again (later ones are dropped).
   */
  tick(ms: number): void {
    const target = this.#target(ms);
    const failure = new FirstError();
    for (let next = this.#earliest(); next && next.due <= target; next = this.#earliest()) failure.run(() => this.#run(next));
    this.#arrive(target);
    failure.rethrow();
  }

  /** Like {@link tick}, but lets promises and I/O callbacks settle after each timer; rejects with the first error a timer threw. */
  async tickAsync(ms: number): Promise<void> {
    const target = this.#target(ms);
    const failure = new FirstError();
    await settle();
    for (let next = this.#earliest(); next && next.due <= target; next = this.#earliest()) {
      failure.run(() => this.#run(next));
      await settle();
    }
    this.#arrive(target);
    failure.rethrow();
  }

  /** Runs the next timer whatever its due time; returns false when none is pending. */
  runNext(): boolean {
    const next = this.#earliest();
    if (!next) return false;
    this.#run(next);
    return true;
  }

  /** Where an advance of `ms` ends; time only moves forward, by a finite amount. */
  #target(ms: number): number {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`FakeClock: advance by a finite number of ms, 0 or more (got ${String(ms)})`);
    return this.#now + ms;
  }

  /**
   * Ends an advance at `target`, unless time is already past it: a timer that advanced the
   * clock itself, or another advance that overlapped this one, must not see time go back.
   */
  #arrive(target: number): void {
    this.#now = Math.max(this.#now, target);
  }

  #earliest(): Scheduled | undefined {
    let best: Scheduled | undefined;
    for (const timer of this.#timers) if (!best || timer.due < best.due || (timer.due === best.due && timer.id < best.id)) best = timer;
    return best;
  }

  #run(timer: Scheduled): void {
    this.#timers = this.#timers.filter((t) => t.id !== timer.id);
    this.#now = Math.max(this.#now, timer.due);
    timer.fn();
  }
}

/**
 * The delay a platform timer would honour: one that is not a number (NaN, undefined, an object)
 * runs at once, as in Node and browsers (a NaN due time would also never compare earlier than another, and stall every
 * timer behind it), and a longer one than platforms allow is clamped as the system clock does.
 */
function delayOf(ms: number): number {
  // Math.max converts as the platform does (undefined and most objects become NaN): NaN is 0.
  return Math.min(Math.max(0, ms), MAX_TIMER_MS) || 0;
}

/** The first error of the calls it runs, kept (whatever was thrown, `undefined` too) to be thrown again once all have run. */
class FirstError {
  #thrown = false;
  #error: unknown;

  run(call: () => void): void {
    try {
      call();
    } catch (error) {
      if (this.#thrown) return;
      this.#thrown = true;
      this.#error = error;
    }
  }

  rethrow(): void {
    if (this.#thrown) throw this.#error;
  }
}

/** Lets pending promise reactions and already-queued I/O callbacks run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
