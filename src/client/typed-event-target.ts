/**
 * An `EventTarget` whose `addEventListener`/`removeEventListener` know the event type of each
 * name in `M`, so listeners are typed without a cast. Nothing is added at run time: the class
 * is the platform's `EventTarget` itself, typed anew (no empty subclass in a bundle).
 *
 * The listener and options types are declared here rather than taken from the DOM lib, so the
 * declarations type-check in a Node project compiled without it (@types/node declares
 * `EventTarget` but not `AddEventListenerOptions` or `EventListenerOrEventListenerObject`).
 */
/** A listener as `addEventListener` takes it: a function or an object with `handleEvent`. */
export type AnyEventListener = ((event: Event) => void) | { handleEvent(event: Event): void };

/** What `removeEventListener` takes besides a boolean (the DOM's `EventListenerOptions`). */
export interface ListenerOptions {
  capture?: boolean;
}

/** What `addEventListener` takes besides a boolean (the DOM's `AddEventListenerOptions`). */
export interface AddListenerOptions extends ListenerOptions {
  once?: boolean;
  passive?: boolean;
  signal?: AbortSignal;
}

export interface TypedEventTarget<M> extends EventTarget {
  addEventListener<K extends keyof M & string>(type: K, listener: (event: M[K]) => void, options?: boolean | AddListenerOptions): void;
  addEventListener(type: string, listener: AnyEventListener | null, options?: boolean | AddListenerOptions): void;
  removeEventListener<K extends keyof M & string>(type: K, listener: (event: M[K]) => void, options?: boolean | ListenerOptions): void;
  removeEventListener(type: string, listener: AnyEventListener | null, options?: boolean | ListenerOptions): void;
}

export const TypedEventTarget = EventTarget as new <M>() => TypedEventTarget<M>;
