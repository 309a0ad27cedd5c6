import { describeCloseCode } from '../core/close-codes.js';
import { parseRetryHint } from '../core/retry-hint.js';
import type { Position } from '../core/position.js';
import { describeRefusal } from './probe-refusal.js';

/**
 * Everything `lifeline connect` reports, as data, and its one-line (plus indented detail)
 * wording. Pure: the session builds these records from the client's events, this file only
 * words them, so the output can be tested without a socket.
 */
export type ConnectEvent =
  | { readonly type: 'connecting'; readonly url: string; readonly attempt: number; readonly maxAttempts: number }
  | { readonly type: 'open'; readonly url: string; readonly ms: number; readonly protocol: string; readonly extensions: string }
  | ClosedEvent
  | { readonly type: 'giveup'; readonly attempts: number }
  | { readonly type: 'message'; readonly text: string }
  | { readonly type: 'binary'; readonly bytes: Uint8Array }
  | { readonly type: 'sent'; readonly text: string; readonly outcome: 'sent' | 'queued' }
  | { readonly type: 'pong'; readonly ms: number }
  | { readonly type: 'error'; readonly message: string; readonly code?: string | undefined; readonly about?: string | undefined }
  | { readonly type: 'auth'; readonly code: number }
  | { readonly type: 'help'; readonly lines: readonly string[] }
  /** Input arrived before the first connection: it waits for it. */
  | { readonly type: 'waiting' }
  | { readonly type: 'session'; readonly id: string; readonly resumed: boolean }
  | { readonly type: 'ready'; readonly resumed: boolean }
  | { readonly type: 'subscribed'; readonly channel: string; readonly position: Position; readonly recovered: boolean; readonly again: boolean }
  | { readonly type: 'unsubscribed'; readonly channel: string }
  | { readonly type: 'event'; readonly channel: string; readonly position: Position; readonly data: unknown }
  | { readonly type: 'presence'; readonly channel: string; readonly action: 'join' | 'leave'; readonly client: string; readonly user?: unknown }
  | { readonly type: 'ack'; readonly channel: string; readonly position: Position }
  | { readonly type: 'result'; readonly method: string; readonly result: unknown }
  | { readonly type: 'direct'; readonly seq: number; readonly data: unknown };

/** What comes after a close: the next attempt, or the end and why. */
export type AfterClose =
  | { readonly kind: 'reconnect'; readonly delayMs: number; readonly attempt: number; readonly maxAttempts: number }
  /**
   * `request`: we asked for it; `stop`: a code that means "done"; `fatal`: retrying cannot help;
   * `credentials`: the server wants credentials and the same ones (or none) would be sent again;
   * `giveup`: out of retries.
   */
  | { readonly kind: 'end'; readonly why: 'request' | 'stop' | 'fatal' | 'credentials' | 'giveup' };

export interface ClosedEvent {
  readonly type: 'closed';
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
  /** The HTTP status of a refused handshake (then `code` is the 1006 the client reports). */
  readonly status?: number | undefined;
  /** A refused handshake's Retry-After, ms. */
  readonly retryAfterMs?: number | undefined;
  /** What the server said of a refused handshake (the start of its body). */
  readonly serverReason?: string | undefined;
  /** How to get credentials, when a refusal of them ends the session. */
  readonly hint?: string | undefined;
  readonly then: AfterClose;
}

/** `0.4 ms`, `12 ms`. */
export function formatMs(ms: number): string {
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

/** `2.3 s`. */
export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function position(p: Position): string {
  return `offset ${p.offset} (epoch ${p.epoch})`;
}

/** Control characters would break the one-line-per-event contract: they are escaped. */
function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => (c === '\n' ? '\\n' : c === '\r' ? '\\r' : c === '\t' ? '\\t' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}

function json(value: unknown): string {
  return value === undefined ? 'undefined' : JSON.stringify(value);
}

function hex(bytes: Uint8Array, max = 32): string {
  const shown = Buffer.from(bytes.subarray(0, max)).toString('hex');
  return bytes.length > max ? `${shown}...` : shown;
}

const endings: Readonly<Record<Extract<AfterClose, { kind: 'end' }>['why'], string>> = {
  request: 'closed as asked',
  stop: 'not reconnecting',
  fatal: 'not reconnecting: retrying cannot help',
  credentials: 'not reconnecting: retrying cannot help without new credentials',
  giveup: 'out of retries',
};

function closedLines(event: ClosedEvent): string[] {
  const { then } = event;
  let head: string;
  let meaning: string;
  if (event.status !== undefined) {
    const refusal = describeRefusal(event.status);
    head = `refused ${event.status} ${refusal.statusText}`;
    meaning = refusal.meaning;
  } else {
    const info = describeCloseCode(event.code);
    head = `closed ${event.code} ${info.name}`;
    meaning = info.meaning;
  }
  if (then.kind === 'end') head += `: ${endings[then.why]}`;
  else {
    head += `: reconnecting in ${formatSeconds(then.delayMs)} (retry ${then.attempt} of ${then.maxAttempts}, ${why(event)})`;
  }
  const lines = [head, `  ${meaning}`];
  // A refusal's reason is the client's own "handshake refused: HTTP N": the head says it already.
  if (event.reason !== '' && event.status === undefined) lines.push(`  reason: ${oneLine(event.reason)}`);
  if (event.serverReason !== undefined) lines.push(`  server said: ${oneLine(event.serverReason)}`);
  if (event.hint !== undefined) lines.push(`  ${event.hint}`);
  return lines;
}

/** Why the delay is what it is: the server's hint, or the client's own backoff. */
function why(event: ClosedEvent): string {
  const hint = parseRetryHint(event.reason);
  if (hint) return `the server asked for ${formatMs(hint.afterMs)}${hint.spreadMs > 0 ? ` plus up to ${formatMs(hint.spreadMs)}` : ''}`;
  if (event.retryAfterMs !== undefined) return `Retry-After asked for ${formatSeconds(event.retryAfterMs)}`;
  return 'backoff with jitter';
}

/** The text form: a head line, then detail lines indented by two spaces. */
export function formatText(event: ConnectEvent): string[] {
  switch (event.type) {
    case 'connecting':
      return [`connecting to ${event.url}${event.attempt === 0 ? '' : ` (retry ${event.attempt} of ${event.maxAttempts})`}`];
    case 'open':
      return [`connected in ${formatMs(event.ms)} (subprotocol: ${event.protocol || 'none'}, extensions: ${event.extensions || 'none'})`];
    case 'closed':
      return closedLines(event);
    case 'giveup':
      return [`gave up after ${event.attempts} ${event.attempts === 1 ? 'retry' : 'retries'} (--max-attempts); exiting`];
    case 'message':
      return [`< ${oneLine(event.text)}`];
    case 'binary':
      return [`< binary ${event.bytes.length} bytes: ${hex(event.bytes)}`];
    case 'sent':
      return [event.outcome === 'sent' ? `> ${oneLine(event.text)}` : `> ${oneLine(event.text)} (queued: sent once connected)`];
    case 'pong':
      return [`pong in ${formatMs(event.ms)}`];
    case 'error':
      return [`error${event.about ? ` ${event.about}` : ''}${event.code ? ` ${event.code}` : ''}: ${oneLine(event.message)}`];
    case 'auth':
      return [`auth required (${event.code}): the server wants fresh credentials; --token-command runs again before the next attempt`];
    case 'help':
      return [...event.lines];
    case 'waiting':
      return ['waiting for the connection: input runs once connected'];
    case 'session':
      return [`session ${event.id} ${event.resumed ? 'resumed: unanswered publishes and requests are resent' : 'new'}`];
    case 'ready':
      return [`ready${event.resumed ? ' (session resumed)' : ''}`];
    case 'subscribed':
      if (!event.again) return [`subscribed ${event.channel} at ${position(event.position)}`];
      return event.recovered
        ? [`resubscribed ${event.channel}: recovered, every missed event replayed; now at ${position(event.position)}`]
        : [`resubscribed ${event.channel}: NOT recovered, events were missed (beyond history, or a new epoch): reload its state; now at ${position(event.position)}`];
    case 'unsubscribed':
      return [`unsubscribed ${event.channel}`];
    case 'event':
      return [`event ${event.channel} ${position(event.position)}: ${oneLine(json(event.data))}`];
    case 'presence':
      return [`presence ${event.channel} ${event.action} ${event.client}${event.user === undefined ? '' : ` ${oneLine(json(event.user))}`}`];
    case 'ack':
      return [`ack ${event.channel} ${position(event.position)}`];
    case 'result':
      return [`result ${event.method}: ${oneLine(json(event.result))}`];
    case 'direct':
      return [`message #${event.seq}: ${oneLine(json(event.data))}`];
  }
}

/** The `--json` form: one object per event, one line. */
export function formatJson(event: ConnectEvent): string {
  switch (event.type) {
    case 'closed': {
      const info = event.status === undefined ? describeCloseCode(event.code) : undefined;
      const refusal = event.status === undefined ? undefined : describeRefusal(event.status);
      return JSON.stringify({
        event: 'closed',
        code: event.code,
        name: info?.name,
        meaning: info?.meaning ?? refusal?.meaning,
        reason: event.reason,
        wasClean: event.wasClean,
        status: event.status,
        retryAfterMs: event.retryAfterMs,
        serverReason: event.serverReason,
        hint: event.hint,
        ...(event.then.kind === 'reconnect'
          ? { reconnect: { delayMs: Math.round(event.then.delayMs), attempt: event.then.attempt, maxAttempts: event.then.maxAttempts } }
          : { end: event.then.why }),
      });
    }
    case 'binary':
      return JSON.stringify({ event: 'binary', bytes: event.bytes.length, hex: Buffer.from(event.bytes).toString('hex') });
    case 'open':
    case 'pong': {
      const { type, ...rest } = event;
      return JSON.stringify({ event: type, ...rest, ms: Math.round(event.ms * 10) / 10 });
    }
    default: {
      const { type, ...rest } = event;
      return JSON.stringify({ event: type, ...rest });
    }
  }
}
