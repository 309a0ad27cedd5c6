/**
 * Calls one listener of a broker's fan-out. A listener's failure is its own: it never stops
 * delivery to the others (the node-side listener guards its own work).
 */
export function deliver<T>(listener: (value: T) => void, value: T): void {
  try {
    listener(value);
  } catch {
    // Nothing to do here: the listener reports its own failures.
  }
}
