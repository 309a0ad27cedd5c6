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

/** A queued message and its size as it was queued (a buffer detached or resized since must not skew the count). */
export type Queued = readonly [data: OutboundData, size: number];

export function sizeOf(data: OutboundData): number {
  if (typeof data === 'string') return utf8ByteLength(data);
  // Blob is global in browsers and Node >= 18.
  if (data instanceof Blob) return data.size;
  return (data as ArrayBufferLike | ArrayBufferView).byteLength;
}

/** Bytes held by `queue`. */
export function queuedBytes(queue: readonly Queued[]): number {
  return queue.reduce((sum, item) => sum + item[1], 0);
}

/**
 * Appends `data` to `queue` (messages sent while not connected, flushed in send order) within
 * `limits`, by count and bytes. A message larger than maxBytes on its own is always refused.
 * @returns the messages evicted to make room (drop-oldest), or `false` if `data` was refused.
 */
export function enqueue(queue: Queued[], data: OutboundData, limits: QueueLimits): OutboundData[] | false {
  const size = sizeOf(data);
  if (size > limits.maxBytes || limits.maxMessages < 1) return false;
  const evicted: OutboundData[] = [];
  // Ends: every pass removes one item, and an empty queue fits (size <= maxBytes, maxMessages >= 1).
  while (queue.length >= limits.maxMessages || queuedBytes(queue) + size > limits.maxBytes) {
    if (limits.overflow === 'reject') return false;
    evicted.push((queue.shift() as Queued)[0]);
  }
  queue.push([data, size]);
  return evicted;
}
