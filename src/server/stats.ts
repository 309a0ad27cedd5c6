import { closeCodes } from '../core/close-codes.js';
import type { RejectionKind } from '../core/handshake-policy.js';

/** Receives timings as they happen, for an exporter that keeps histograms (`lifeline serve` feeds Prometheus). */
export interface StatsObserver {
  /** A `request` message for a method with a handler was answered (result, error or timeout) after `ms`. */
  request(method: string, ms: number): void;
}

/** Distinct close codes outside Lifeline's table that {@link ServerStats.closes} keeps apart. */
export const MAX_OTHER_CLOSE_CODES = 32;
/** Where further codes outside the table are counted (no close code is 0). */
export const OTHER_CLOSE_CODE = 0;
const KNOWN_CLOSE_CODES: ReadonlySet<number> = new Set(closeCodes.map((info) => info.code));

/**
 * Counters a server keeps about itself, read by metrics exporters and the admin page.
 * Plain numbers and maps: incrementing one is the whole cost on the hot path.
 */
export class ServerStats {
  /** Handshakes by outcome: 101 for accepted, otherwise the HTTP status of the refusal. */
  readonly handshakes = new Map<number, number>();
  /** Refused handshakes by why (`capacity`, `rate`, `busy`, `unauthorized`, ...); each is also counted in {@link handshakes} by status. */
  readonly refusals = new Map<RejectionKind, number>();
  /**
   * Closes by reported close code. The codes of Lifeline's table, and the first
   * {@link MAX_OTHER_CLOSE_CODES} others seen, each count under their own code; any further code
   * counts under 0 ("other"): a peer chooses the code it closes with (3000-4999), and each code
   * is a metrics series.
   */
  readonly closes = new Map<number, number>();
  /** Codes outside Lifeline's table counted under their own number so far. */
  #otherCodes = 0;
  heartbeatTerminations = 0;
  slowConsumerCloses = 0;
  invalidMessages = 0;
  /** Application messages received (text envelopes and binary; keepalive pings and pongs excluded). */
  messagesIn = 0;
  /** Bytes of every message received, application or keepalive. */
  bytesIn = 0;
  /** Messages sent: replies, events, app pings, everything written to a socket as a message. */
  messagesOut = 0;
  /** Bytes of those messages (UTF-8 for text), before any compression. */
  bytesOut = 0;
  /** Subscribes that asked to recover from a position (`since`) and got every missed event. */
  recovered = 0;
  /** ... and those told `recovered: false` (the gap was no longer in history, or the epoch changed). */
  notRecovered = 0;
  /** Where timings go; none are kept here. */
  observer: StatsObserver | undefined;

  countHandshake(status: number): void {
    this.handshakes.set(status, (this.handshakes.get(status) ?? 0) + 1);
  }

  countRefusal(kind: RejectionKind): void {
    this.refusals.set(kind, (this.refusals.get(kind) ?? 0) + 1);
  }

  countClose(code: number): void {
    if (!this.closes.has(code) && !KNOWN_CLOSE_CODES.has(code)) {
      if (this.#otherCodes >= MAX_OTHER_CLOSE_CODES) code = OTHER_CLOSE_CODE;
      else this.#otherCodes++;
    }
    this.closes.set(code, (this.closes.get(code) ?? 0) + 1);
  }

  countOut(bytes: number): void {
    this.messagesOut++;
    this.bytesOut += bytes;
  }

  countRecovery(recovered: boolean): void {
    if (recovered) this.recovered++;
    else this.notRecovered++;
  }

  observeRequest(method: string, ms: number): void {
    this.observer?.request(method, ms);
  }
}
