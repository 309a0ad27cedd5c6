/**
 * A first-in first-out list over one array and a head index: taking from the front moves the
 * index instead of the elements (a full channel history drops its oldest event on every publish,
 * where `Array.prototype.shift` moved or re-trimmed the whole array). The array is compacted once
 * the taken slots outnumber the kept ones.
 */
export class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  /** The `index`-th oldest item (0: the oldest), or undefined. */
  at(index: number): T | undefined {
    return index < 0 ? undefined : this.#items[this.#head + index];
  }

  push(item: T): void {
    this.#items.push(item);
  }

  /** Takes the oldest item. */
  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined; // no longer held
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head >= 64 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** The items, oldest first, for which `keep` is true (a new array). */
  filter(keep: (item: T) => boolean): T[] {
    const out: T[] = [];
    for (let index = this.#head; index < this.#items.length; index++) {
      const item = this.#items[index] as T;
      if (keep(item)) out.push(item);
    }
    return out;
  }
}
