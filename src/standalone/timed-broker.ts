import type { Broker, ImmediateExchanges } from '../broker/broker.js';

/** Broker calls whose duration is observed. */
const TIMED = new Set<string | symbol>(['publish', 'recover', 'rewind']);

/**
 * The same broker, with `publish`, `recover` and `rewind` timed (`observe(operation, seconds)`, also for
 * calls that fail). A proxy rather than a class listing every method, so a broker gaining a
 * method keeps working unchanged; every other member is the broker's own, bound to it.
 */
export function timedBroker(broker: Broker, observe: (operation: string, seconds: number) => void): Broker {
  const bound = new Map<string | symbol, unknown>();
  return new Proxy(broker, {
    get(target, property) {
      const cached = bound.get(property);
      if (cached !== undefined) return cached;
      const value: unknown = Reflect.get(target, property, target);
      if (property === 'immediate' && value !== undefined) {
        const timed = timedImmediate(value as ImmediateExchanges, observe);
        bound.set(property, timed);
        return timed;
      }
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => unknown;
      const wrapped = TIMED.has(property)
        ? async (...args: unknown[]): Promise<unknown> => {
            const started = process.hrtime.bigint();
            try {
              return await method.apply(target, args);
            } finally {
              observe(String(property), Number(process.hrtime.bigint() - started) / 1e9);
            }
          }
        : method.bind(target);
      bound.set(property, wrapped);
      return wrapped;
    },
  });
}

/** The in-process broker's immediate steps, its publish timed as the promised one is. */
function timedImmediate(immediate: ImmediateExchanges, observe: (operation: string, seconds: number) => void): ImmediateExchanges {
  return {
    publish(...args) {
      const started = process.hrtime.bigint();
      try {
        return immediate.publish(...args);
      } finally {
        observe('publish', Number(process.hrtime.bigint() - started) / 1e9);
      }
    },
    recordReply: (...args) => immediate.recordReply(...args),
    claimRequest: (...args) => immediate.claimRequest(...args),
    ...(immediate.saveSession ? { saveSession: immediate.saveSession.bind(immediate) } : {}),
    ...(immediate.pendingDirect ? { pendingDirect: immediate.pendingDirect.bind(immediate) } : {}),
    // Left out: a catch-up is timed (recover), so it takes the promised method.
  };
}
