/**
 * An `EventTarget` whose `addEventListener`/`removeEventListener` know the event type of each
 * name in `M`, so listeners are typed without a cast. Nothing is added at run time: the class
 * is the platform's `EventTarget` itself, typed anew (no empty subclass in a bundle).
 */
export interface TypedEventTarget<M> extends EventTarget {
  addEventListener<K extends keyof M & string>(type: K, listener: (event: M[K]) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof M & string>(type: K, listener: (event: M[K]) => void, options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
}

export const TypedEventTarget = EventTarget as new <M>() => TypedEventTarget<M>;
