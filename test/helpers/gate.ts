/**
 * Holds a client's reconnects back while closed: give `wait()` to its URL provider, and
 * "while disconnected" is certain, with no sleep.
 */
export class Gate {
  #open: Promise<void> = Promise.resolve();
  #release: () => void = () => undefined;

  close(): void {
    this.#open = new Promise((resolve) => (this.#release = resolve));
  }

  open(): void {
    this.#release();
  }

  wait(): Promise<void> {
    return this.#open;
  }
}
