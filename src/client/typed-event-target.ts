/**
 * An `EventTarget` whose `addEventListener`/`removeEventListener` know the event type of each
 * name in `M`, so listeners are typed without a cast. Nothing is added at run time.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-unused-vars -- M is used by the typed overloads below
export class TypedEventTarget<M> extends EventTarget {}

// Typed overloads of EventTarget's own methods; no new members.
export interface TypedEventTarget<M> {
  addEventListener<K extends keyof M & string>(type: K, listener: (event: M[K]) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof M & string>(type: K, listener: (event: M[K]) => void, options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
}
