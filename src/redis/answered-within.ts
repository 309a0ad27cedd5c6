import { systemClock } from '../core/clock.js';

/**
 * `work`, or a rejection with "no answer within `ms` ms" when it has not settled by then (real
 * time: this bounds I/O). `onLate` runs when the time is up. The timer is cleared either way.
 */
export async function answeredWithin<T>(work: Promise<T>, ms: number, onLate?: () => void): Promise<T> {
  let timer: ReturnType<typeof systemClock.setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = systemClock.setTimeout(() => {
      onLate?.();
      reject(new Error(`no answer within ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    if (timer !== undefined) systemClock.clearTimeout(timer);
  }
}
