import { describeCloseCode, parseRetryHint, type LifelineClient, type LifelineCloseEvent } from '../client/index.js';
import { duration } from './dom.js';
import type { Chip, Timeline } from './timeline.js';
import { RefreshWithheld } from './tokens.js';

/** The endpoint without its query: the token stays out of the page's log. */
function withoutToken(url: string): string {
  const at = url.indexOf('?');
  return at === -1 ? url : `${url.slice(0, at)}?token=…`;
}

/**
 * Puts every lifecycle event the client emits on the timeline, in words a person can act on:
 * the close code with its meaning, whether the close was clean, what the client will do next,
 * a live countdown to the next attempt, and when the session is ready again.
 */
export function narrateLifecycle(client: LifelineClient, timeline: Timeline, signal: AbortSignal): void {
  const on = { signal };
  let attemptStarted = performance.now();
  let resumed = false;
  let sessionId = '';

  client.addEventListener(
    'connecting',
    (event) => {
      timeline.stopCountdown();
      attemptStarted = performance.now();
      timeline.add({ kind: 'connecting', state: 'connecting', title: event.attempt === 0 ? 'first attempt' : `retry ${event.attempt}` });
    },
    on,
  );

  client.addEventListener(
    'open',
    () => {
      const session = client.session;
      timeline.add({
        kind: 'open',
        state: 'open',
        title: `socket open in ${duration(performance.now() - attemptStarted)}`,
        detail: `${withoutToken(client.transport.url)}: hello sent, ${session === undefined ? 'asking for a new session' : `resuming session ${short(session)}`}`,
      });
    },
    on,
  );

  client.addEventListener(
    'session',
    (event) => {
      resumed = event.resumed;
      sessionId = event.id;
    },
    on,
  );

  client.addEventListener(
    'ready',
    () => {
      timeline.add({
        kind: 'ready',
        state: 'ready',
        title: `ready in ${duration(performance.now() - attemptStarted)}`,
        detail: resumed
          ? `session ${short(sessionId)} resumed: subscriptions restored, unanswered publishes resent with their ids`
          : `new session ${short(sessionId)}`,
      });
    },
    on,
  );

  client.addEventListener(
    'close',
    (event) => {
      const info = describeCloseCode(event.code);
      timeline.add({
        kind: 'close',
        state: event.willReconnect ? 'reconnecting' : 'closed',
        title: `${event.code} ${info.name}`,
        detail: event.reason === '' ? info.meaning : `${info.meaning} (“${event.reason}”)`,
        chips: closeChips(event),
      });
    },
    on,
  );

  client.addEventListener(
    'authRequired',
    () => {
      timeline.add({ kind: 'token', state: 'reconnecting', title: 'credentials expired', detail: 'the next attempt fetches a fresh token and resumes the same session' });
    },
    on,
  );

  client.addEventListener(
    'reconnecting',
    (event) => {
      const hint = parseRetryHint(event.reason);
      const entry = timeline.add({
        kind: 'reconnecting',
        state: 'reconnecting',
        title: `retry ${event.attempt} in ${duration(event.delay)}`,
        detail: hint
          ? `the server asked for ${duration(hint.afterMs)} plus a random share of ${duration(hint.spreadMs)}, so a crowd comes back spread out`
          : 'backoff with full jitter: a random delay up to the current ceiling',
      });
      if (client.state === 'reconnecting') timeline.countdown(entry, event.delay);
    },
    on,
  );

  client.addEventListener(
    'giveup',
    (event) => {
      timeline.stopCountdown();
      timeline.add({ kind: 'giveup', state: 'closed', title: `gave up after ${event.attempts} attempts`, detail: 'The retry budget is spent. Reconnect starts again with a fresh one.' });
    },
    on,
  );

  client.addEventListener(
    'statechange',
    (event) => {
      // Closed during the wait (the Close button): no attempt is coming, so no countdown to one.
      if (event.to === 'closed') timeline.stopCountdown();
      if (event.to !== 'paused') return;
      timeline.stopCountdown();
      timeline.add({ kind: 'paused', state: 'paused', title: 'waiting for the network', detail: 'offline or hidden: no attempts are spent; the client connects the moment it is back' });
    },
    on,
  );

  client.addEventListener(
    'error',
    (event) => {
      const error = event.error as Error & { code?: unknown };
      // A browser reports every dropped socket as an error before its close: the close says it all.
      if (error.code === 'ERR_SOCKET') return;
      if (error instanceof RefreshWithheld) {
        timeline.add({ kind: 'token', state: 'paused', title: 'refresh due, withheld', detail: 'the client asked for a fresh token to send on the live link; the page said no' });
        return;
      }
      timeline.add({ kind: 'error', state: 'closed', title: error.message });
    },
    on,
  );
}

/** `s-9f2c1a…`: enough of a session id to recognise it. */
export function short(id: string): string {
  return id.length > 12 ? `${id.slice(0, 10)}…` : id;
}

function closeChips(event: LifelineCloseEvent): Chip[] {
  const chips: Chip[] = [
    { text: `wasClean: ${event.wasClean}`, tone: event.wasClean ? 'good' : 'bad' },
    { text: `willReconnect: ${event.willReconnect}`, ...(event.willReconnect ? { tone: 'good' as const } : {}) },
    { text: `policy: ${event.action}` },
  ];
  return chips;
}
