import { describeCloseCode } from '../core/close-codes.js';
import { classifyClose } from '../core/close-policy.js';
import type { CloseAction } from '../core/close-code.js';
import { parseRetryAfterHeader, parseRetryHint } from '../core/retry-hint.js';
import { explainFailure } from './probe-failure.js';
import { describeRefusal, type RefusalInfo } from './probe-refusal.js';
import { PROBE_CLOSE, type ProbeObservation } from './probe-timing.js';

/**
 * What a probe's observation says about the endpoint. Pure: the observation (and the wall
 * clock, for an HTTP-date Retry-After) in, the verdict out.
 *
 * - healthy: 101, a pong, and a clean close;
 * - refused: an HTTP status other than 101, or accepted and closed by the server at once (the
 *   accept-then-close mode browsers need: 4401, 4403, 4429, 4503);
 * - unreachable: no answer to the handshake (DNS, TCP or TLS failed, or nothing came back);
 * - unhealthy: accepted, but the handshake response, the ping or the close went wrong.
 */
export type Verdict = 'healthy' | 'refused' | 'unreachable' | 'unhealthy';

export interface ProbeRefusal extends RefusalInfo {
  /** Retry-After, ms, if the server sent one. */
  readonly retryAfterMs?: number;
  /** The start of the response body: the server's reason. */
  readonly body?: string;
}

export interface ServerClose {
  readonly code: number;
  readonly name: string;
  readonly meaning: string;
  readonly reason: string;
  readonly action: CloseAction;
}

export interface ProbeVerdict {
  readonly verdict: Verdict;
  /** One sentence: what happened. */
  readonly summary: string;
  /** What to do about it, when something went wrong. */
  readonly advice?: string;
  readonly refusal?: ProbeRefusal;
  /** The server closed first: its code and what it means. */
  readonly serverClose?: ServerClose;
}

export function judge(o: ProbeObservation, wallClockMs: number): ProbeVerdict {
  const { failure, handshake, close } = o;
  if (handshake && handshake.status !== 101) return refused(o, wallClockMs);
  if (failure) {
    const explained = explainFailure(failure, { host: o.host, port: o.port, address: o.tcp?.address ?? o.dns?.addresses.at(-1)?.address });
    // Before any answer to the handshake, the endpoint was not reached as a WebSocket server.
    const answered = handshake !== undefined;
    return { verdict: answered ? 'unhealthy' : 'unreachable', summary: explained };
  }
  if (close?.by === 'server') {
    const info = describeCloseCode(close.code);
    const action = classifyClose({ code: close.code, reason: close.reason, wasClean: close.wasClean }).action;
    const serverClose = { code: close.code, name: info.name, meaning: info.meaning, reason: close.reason, action };
    const hint = parseRetryHint(close.reason);
    return {
      verdict: 'refused',
      summary: `accepted, then closed by the server before the ping's answer: ${close.code} ${info.name}`,
      advice: `${info.meaning}${hint ? ` (the server asks for ${hint.afterMs} ms${hint.spreadMs > 0 ? ` plus up to ${hint.spreadMs} ms` : ''})` : ''}`,
      serverClose,
    };
  }
  if (!o.open || !o.ping || !close) return { verdict: 'unhealthy', summary: 'the probe stopped before the close; nothing more is known' };
  if (!close.wasClean) {
    return {
      verdict: 'unhealthy',
      summary: `the close handshake did not complete: ${close.code} ${describeCloseCode(close.code).name}`,
      advice: 'the server dropped the connection instead of answering the close frame (RFC 6455 §7.1.2); clients will see 1006',
    };
  }
  const echoed = close.code === PROBE_CLOSE.code ? '' : ` (the server answered the close with ${close.code}, not ${PROBE_CLOSE.code})`;
  return { verdict: 'healthy', summary: `accepted, answered a ping and closed cleanly${echoed}` };
}

function refused(o: ProbeObservation, wallClockMs: number): ProbeVerdict {
  const handshake = o.handshake;
  const status = handshake?.status ?? 0;
  const info = describeRefusal(status);
  const retryAfter = handshake?.headers.find(([name]) => name.toLowerCase() === 'retry-after')?.[1];
  const retryAfterMs = parseRetryAfterHeader(retryAfter, wallClockMs);
  const refusal: ProbeRefusal = {
    ...info,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    ...(handshake?.body === undefined ? {} : { body: handshake.body }),
  };
  return { verdict: 'refused', summary: `${status} ${info.statusText}: ${info.meaning}`, advice: info.advice, refusal };
}
