import { deliver } from './deliver.js';

/**
 * The listeners of one fan-out (a channel's, a feed's). {@link deliver} hands a value to those
 * subscribed when it starts and still subscribed at their turn: one that leaves and joins again
 * meanwhile gets it once, one that joins meanwhile waits for the next value. The list it walks
 * is made at the first delivery after a change, not per value.
 */
export class Listeners<T> {
  readonly #set = new Set<(value: T) => void>();
  #list: readonly ((value: T) => void)[] | undefined;

  get size(): number {
    return this.#set.size;
  }

  add(listener: (value: T) => void): void {
    this.#set.add(listener);
    this.#list = undefined;
  }

  delete(listener: (value: T) => void): void {
    this.#set.delete(listener);
    this.#list = undefined;
  }

  clear(): void {
    this.#set.clear();
    this.#list = undefined;
  }

  deliver(value: T): void {
    for (const listener of (this.#list ??= [...this.#set])) if (this.#set.has(listener)) deliver(listener, value);
  }
}
