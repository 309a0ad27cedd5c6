import type { Envelope } from '../core/envelope.js';
import type { Position } from '../core/position.js';
import type { ServerReplyCode } from './reply-code.js';

/**
 * What a lifeline.v1 server sends, built in one place so every path writes the same wire text
 * (docs/protocol.md). Replies that enter the request-id window are kept as this text.
 */

/** An `error` reply to message `id` (`code` may be a request handler's own). */
export function errorReply(id: number, code: ServerReplyCode | (string & {}), message: string): Envelope {
  return { type: 'error', id, code, message };
}

/** The last epoch an ack carried, and its JSON: a channel's acks carry the same epoch, quoted once. */
let ackedEpoch = '';
let ackedEpochJson = '""';

/**
 * The wire text of an `ack` to publish `id`: what `JSON.stringify` makes of
 * `{ type: 'ack', id, position: { epoch, offset } }`, written out (every acknowledged publish
 * builds one). `id` and `offset` are safe integers (validated, counted).
 */
export function ackText(id: number, position: { readonly epoch: string; readonly offset: number }): string {
  const { epoch } = position;
  if (epoch !== ackedEpoch) {
    ackedEpochJson = JSON.stringify(epoch);
    ackedEpoch = epoch;
  }
  return `{"type":"ack","id":${id},"position":{"epoch":${ackedEpochJson},"offset":${position.offset}}}`;
}

/** The wire text of one channel event. */
export function eventText(channel: string, event: { readonly epoch: string; readonly offset: number; readonly data: unknown }): string {
  return JSON.stringify({ type: 'event', channel, epoch: event.epoch, offset: event.offset, data: event.data });
}

export function subscribedText(id: number, channel: string, position: Position, recovered: boolean): string {
  return JSON.stringify({ type: 'subscribed', id, channel, position, recovered });
}

export function directText(seq: number, data: unknown): string {
  return JSON.stringify({ type: 'message', seq, data });
}

/** What a `welcome` tells the client about its session and the server's settings. */
export interface Welcome {
  readonly session: string;
  readonly secret: string;
  readonly member: string;
  readonly resumed: boolean;
  readonly recoveryWindow: number;
  readonly pingInterval: number;
  readonly maxPayload: number;
  /** The highest message id the session has processed. */
  readonly acked: number;
  readonly expiresAt?: number | undefined;
}

export function welcomeText(welcome: Welcome): string {
  const { session, secret, member, resumed, recoveryWindow, pingInterval, maxPayload, acked, expiresAt } = welcome;
  return JSON.stringify({ type: 'welcome', v: 1, session, secret, member, resumed, recoveryWindow, pingInterval, maxPayload, acked, ...(expiresAt === undefined ? {} : { expiresAt }) });
}
