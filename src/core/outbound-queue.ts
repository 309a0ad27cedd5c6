import { utf8ByteLength } from './utf8.js';

/** What a queued WebSocket message may be. */
export type OutboundData = string | ArrayBufferLike | ArrayBufferView | Blob;

export interface QueueLimits {
  /** Messages held at most. Default 1000. */
  readonly maxMessages: number;
  /** Bytes held at most. Default 1 MiB. */
  readonly maxBytes: number;
  /**
   * When full: `'reject'` refuses the new message (send returns `'rejected'`, nothing queued
   * is lost); `'drop-oldest'` evicts the oldest messages to make room. Default `'reject'`.
   */
  readonly overflow: 'reject' | 'drop-oldest';
}

export const defaultQueueLimits: QueueLimits = { maxMessages: 1000, maxBytes: 1024 * 1024, overflow: 'reject' };

export function sizeOf(data: OutboundData): number {
  if (typeof data === 'string') return utf8ByteLength(data);
  if (typeof Blob !== 'undefined' && data instanceof Blob) return data.size;
  return (data as ArrayBufferLike | ArrayBufferView).byteLength;
}

/**
 * Messages sent while not connected, bounded by count and bytes, flushed in send order.
 * A message larger than maxBytes on its own is always rejected.
 */
export class OutboundQueue {
  readonly #items: OutboundData[] = [];
  /** Each item's size as it was queued (a buffer detached or resized since must not skew the count). */
  readonly #sizes: number[] = [];
  #bytes = 0;

  constructor(readonly limits: QueueLimits) {}

  get length(): number {
    return this.#items.length;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** @returns the messages evicted to make room (drop-oldest), or `false` if `data` was refused. */
  push(data: OutboundData): OutboundData[] | false {
    const size = sizeOf(data);
    const { maxMessages, maxBytes, overflow } = this.limits;
    const items = this.#items;
    if (size > maxBytes || maxMessages < 1) return false;
    const evicted: OutboundData[] = [];
    // Ends: every pass removes one item, and an empty queue fits (size <= maxBytes, maxMessages >= 1).
    while (items.length >= maxMessages || this.#bytes + size > maxBytes) {
      if (overflow === 'reject') return false;
      evicted.push(items.shift() as OutboundData);
      this.#bytes -= this.#sizes.shift() as number;
    }
    items.push(data);
    this.#sizes.push(size);
    this.#bytes += size;
    return evicted;
  }

  /** Removes and returns everything, oldest first. */
  drain(): OutboundData[] {
    this.#bytes = this.#sizes.length = 0;
    return this.#items.splice(0);
  }

  clear(): void {
    this.drain();
  }
}
