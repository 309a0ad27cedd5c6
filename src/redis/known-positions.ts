import type { Position } from '../core/position.js';

/** How many channels' furthest positions a node remembers. */
const KNOWN_LIMIT = 10_000;

/**
 * The furthest position this node has seen on each channel (its publishes, its subscriptions'
 * events, recoveries), passed to the publish and recovery scripts: Redis answering with a head
 * behind it in the same epoch (its data went back: a failover to a lagging replica, an older
 * snapshot) starts a new epoch there instead of issuing those offsets a second time. Bounded:
 * past {@link KNOWN_LIMIT} channels the least recently advanced are forgotten.
 */
export class KnownPositions {
  readonly #known = new Map<string, Position>();

  /** As script arguments: epoch ('' for none) and offset. */
  args(channel: string): [string, string] {
    const known = this.#known.get(channel);
    return known ? [known.epoch, String(known.offset)] : ['', '0'];
  }

  saw(channel: string, position: Position): void {
    const known = this.#known.get(channel);
    if (known !== undefined && known.epoch === position.epoch && known.offset >= position.offset) return;
    this.#known.delete(channel);
    this.#known.set(channel, { epoch: position.epoch, offset: position.offset });
    if (this.#known.size > KNOWN_LIMIT) this.#known.delete(this.#known.keys().next().value ?? channel);
  }
}
