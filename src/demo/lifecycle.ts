import { describeCloseCode, parseRetryHint, type LifelineCloseEvent, type ReconnectingWebSocket } from '../client/index.js';
import { duration } from './dom.js';
import type { Chip, Timeline } from './timeline.js';

/**
 * Puts every lifecycle event the client emits on the timeline, in words a person can act on:
 * the close code with its meaning, whether the close was clean, what the client will do next,
 * and a live countdown to the next attempt.
 */
export function narrateLifecycle(client: ReconnectingWebSocket, timeline: Timeline): void {
  let attemptStarted = performance.now();

  const connecting = (attempt: number): void => {
    timeline.stopCountdown();
    attemptStarted = performance.now();
    timeline.add({
      kind: 'connecting',
      state: 'connecting',
      title: attempt === 0 ? 'first attempt' : `retry ${attempt}`,
      // The URL only on the first attempt: after that it is the same one, and only noise.
      detail: attempt === 0 && client.url !== '' ? `opening ${client.url}` : undefined,
    });
  };
  client.addEventListener('connecting', (event) => connecting(event.attempt));

  client.addEventListener('open', () => {
    timeline.add({ kind: 'open', state: 'open', title: `connected in ${duration(performance.now() - attemptStarted)}` });
  });

  client.addEventListener('close', (event) => {
    const info = describeCloseCode(event.code);
    timeline.add({
      kind: 'close',
      state: event.wasClean ? 'closing' : 'closed',
      title: `${event.code} ${info.name}`,
      detail: info.meaning,
      chips: closeChips(event),
    });
  });

  client.addEventListener('reconnecting', (event) => {
    const hint = parseRetryHint(event.reason);
    const entry = timeline.add({
      kind: 'reconnecting',
      state: 'reconnecting',
      title: `retry ${event.attempt} in ${duration(event.delay)}`,
      detail: hint
        ? `the server asked for ${duration(hint.afterMs)} plus a random share of ${duration(hint.spreadMs)}, so a crowd comes back spread out`
        : 'backoff with full jitter: a random delay up to the current ceiling',
    });
    timeline.countdown(entry, event.delay);
  });

  client.addEventListener('giveup', (event) => {
    timeline.stopCountdown();
    timeline.add({
      kind: 'giveup',
      state: 'closed',
      title: `gave up after ${event.attempts} attempts`,
      detail: 'The retry budget is spent. Reconnect starts again with a fresh one.',
    });
  });

  client.addEventListener('statechange', (event) => {
    if (event.to === 'paused') {
      timeline.stopCountdown();
      timeline.add({ kind: 'paused', state: 'paused', title: 'waiting for the page or network', detail: 'Hidden or offline: retries wait, and resume at once when it is back.' });
    }
  });
}

function closeChips(event: LifelineCloseEvent): Chip[] {
  const chips: Chip[] = [
    { text: `wasClean: ${event.wasClean}`, tone: event.wasClean ? 'good' : 'bad' },
    { text: `willReconnect: ${event.willReconnect}`, ...(event.willReconnect ? { tone: 'good' as const } : {}) },
    { text: `policy: ${event.action}` },
  ];
  if (event.reason !== '') chips.push({ text: `reason: "${event.reason}"` });
  return chips;
}
