import { closeEvent, lifelineEvent, type LifelineCloseEvent } from './events.js';

/** The transport's lifecycle events a {@link LifelineClient} re-dispatches as its own (not `message` or `statechange`: it has its own). */
const FORWARDED = ['connecting', 'open', 'close', 'reconnecting', 'giveup', 'authRequired', 'error'] as const;

/** Re-dispatches `from`'s lifecycle events on `to`, each as a new event with the same fields. */
export function forwardEvents(from: EventTarget, to: EventTarget): void {
  for (const type of FORWARDED) {
    from.addEventListener(type, (event) => {
      const detail: Record<string, unknown> = {};
      // `isTrusted` is an own, read-only property of browser events: copying it would throw. Not an
      // object rest: it would copy Node's symbol-keyed internals too (the copy would keep the old type).
      for (const key of Object.keys(event)) if (key !== 'isTrusted') detail[key] = (event as unknown as Record<string, unknown>)[key];
      // A platform CloseEvent's fields live on its prototype: Object.keys sees only ours.
      const close = event as LifelineCloseEvent;
      to.dispatchEvent(type === 'close' ? closeEvent(close, close.willReconnect, close.action) : lifelineEvent(type, detail));
    });
  }
}
