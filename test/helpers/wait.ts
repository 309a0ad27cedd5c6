/** Resolves when `predicate` holds, checking on each event of `target`; fails after `ms`. */
export function until<T extends EventTarget>(target: T, type: string, predicate: (event: Event) => boolean, ms = 5_000): Promise<Event> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      target.removeEventListener(type, listener);
      reject(new Error(`timed out after ${ms} ms waiting for "${type}"`));
    }, ms);
    const listener = (event: Event): void => {
      if (!predicate(event)) return;
      clearTimeout(timer);
      target.removeEventListener(type, listener);
      resolve(event);
    };
    target.addEventListener(type, listener);
  });
}

/** A promise with a deadline, so no test waits forever. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/**
 * Resolves once `check` holds, polling every 10 ms; rejects after `ms` naming `what`. For state
 * that announces no event; where there is one, wait for the event ({@link until}, `once`).
 */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
