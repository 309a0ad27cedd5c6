/**
 * The demo page's script (bundled by scripts/bundle-demo.mjs into /client.js): a chat room on
 * `chat:lobby` over a real `LifelineClient`, beside its live lifecycle: the state machine, the
 * timeline, the heartbeat round trip, and controls that break the link in honest ways.
 */
import { describeCloseCode, LifelineClient, withTokenRefresh, type LifelineClientState } from '../client/index.js';
import { ChatView } from './chat.js';
import { showState } from './diagram.js';
import { byId, clockTime } from './dom.js';
import { NAME_PATTERN, rememberName, storedName, visitorKey } from './identity.js';
import { narrateLifecycle, short } from './lifecycle.js';
import { DemoNetwork } from './network.js';
import { PresenceView } from './presence.js';
import { Room, type RoomStats } from './room.js';
import { Sparkline } from './sparkline.js';
import { Timeline } from './timeline.js';
import { TokenSource, type Credentials, type TokenUse } from './tokens.js';
import { TokenClock } from './token-clock.js';

/** Heartbeat for the demo: a ping every 2 s and two missed ones declare the link dead (4-6 s). */
const HEARTBEAT = { pingInterval: 2_000, maxMissed: 2 };

interface Live {
  readonly user: string;
  readonly client: LifelineClient;
  readonly room: Room;
  readonly tokens: TokenSource;
  readonly stop: AbortController;
}

declare global {
  interface Window {
    /** The page's client and room, for browser tests and for poking at from the console. */
    __demo?: { readonly client: LifelineClient; readonly user: string; readonly stats: () => RoomStats; readonly network: DemoNetwork };
  }
}

/** The server writes its WebSocket path into a meta tag; anything else serving the page gets /ws. */
function endpointUrl(): string {
  const meta = document.querySelector<HTMLMetaElement>('meta[name="lifeline-endpoint"]')?.content ?? '';
  const path = meta.startsWith('/') ? meta : '/ws';
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${path}`;
}

const endpoint = endpointUrl();
byId('endpoint', HTMLElement).textContent = endpoint;

const diagram = byId('diagram', SVGSVGElement);
const pill = byId('status-pill', HTMLDivElement);
const statusText = byId('status-text', HTMLElement);
const facts = {
  session: byId('fact-session', HTMLElement),
  attempt: byId('fact-attempt', HTMLElement),
  close: byId('fact-close', HTMLElement),
};
const buttons = {
  drop: byId('btn-drop', HTMLButtonElement),
  offline: byId('btn-offline', HTMLButtonElement),
  expire: byId('btn-expire', HTMLButtonElement),
  close: byId('btn-close', HTMLButtonElement),
  clear: byId('btn-clear', HTMLButtonElement),
};
const closeHint = byId('hint-close', HTMLParagraphElement);
const CLOSE_HINT = closeHint.textContent ?? '';
const CLOSED_HINT = 'Closed with 1000: out of the room, nothing reconnects. Reconnect resumes the session and shows what was missed.';
const identity = byId('identity', HTMLFormElement);
const nameInput = byId('identity-name', HTMLInputElement);

const timeline = new Timeline(byId('timeline', HTMLOListElement));
const presence = new PresenceView();
const chat = new ChatView((text) => live?.room.send(text));
const sparkline = new Sparkline(byId('sparkline', SVGSVGElement), byId('fact-rtt', HTMLElement));
const tokenClock = new TokenClock(byId('fact-token', HTMLElement));
const network = new DemoNetwork({
  pong: (ms) => sparkline.push(ms),
  lost: () => sparkline.lost(),
  frame: (text) => credentialsFrame(text),
});

let live: Live | undefined;
let expiring = false;

/** `welcome` and `refreshed` say when the server will close for expired credentials. */
function credentialsFrame(text: string): void {
  const welcome = text.startsWith('{"type":"welcome"');
  if (!welcome && !text.startsWith('{"type":"refreshed"')) return;
  let expiresAt: unknown;
  try {
    expiresAt = (JSON.parse(text) as { expiresAt?: unknown }).expiresAt;
  } catch {
    return;
  }
  if (typeof expiresAt !== 'number') return;
  tokenClock.set(expiresAt, expiring);
  if (!welcome && !expiring) {
    timeline.add({ kind: 'token', state: 'ready', title: 'token refreshed on the live link', detail: `now valid until ${clockTime(expiresAt)}; no reconnect needed` });
  }
}

function tokenIssued(credentials: Credentials, use: TokenUse): void {
  // Every token of this name and visitor has the same id: who "you" are in presence and chat.
  chat.self = credentials.id;
  presence.self = credentials.id;
  if (use === 'reconnect after 4000') timeline.add({ kind: 'token', state: 'connecting', title: 'fresh token fetched', detail: `for ${credentials.user}, valid until ${clockTime(credentials.expiresAt)}` });
}

function render(client: LifelineClient, to: LifelineClientState, from?: LifelineClientState): void {
  showState(diagram, to, from);
  pill.dataset.state = to;
  statusText.textContent = to;
  facts.attempt.textContent = String(client.transport.attempt);
  const ready = to === 'ready';
  buttons.drop.disabled = !ready;
  buttons.expire.disabled = !ready || expiring;
  buttons.close.disabled = to === 'closing';
  buttons.close.textContent = to === 'closed' ? 'Reconnect' : 'Close';
  closeHint.textContent = to === 'closed' ? CLOSED_HINT : CLOSE_HINT;
  // Closed, the page is out of the room: nobody's presence is known until it reconnects.
  if (to === 'closed') presence.unknown();
  if (to === 'closed') tokenClock.clear();
}

function start(user: string): void {
  live?.stop.abort();
  live?.client.close();
  expiring = false;
  const stop = new AbortController();
  const on = { signal: stop.signal };
  // A token still on its way for the previous name (renamed meanwhile) says nothing.
  const tokens: TokenSource = new TokenSource(user, visitorKey(), (credentials, use) => {
    if (live?.tokens === tokens) tokenIssued(credentials, use);
  });
  const client = new LifelineClient(tokens.url(endpoint), {
    WebSocket: network.WebSocket,
    environment: network.environment,
    heartbeat: HEARTBEAT,
    refreshToken: withTokenRefresh(tokens.refresh),
    // A publish waits as long as it takes: the outbox resends it after every resume.
    publishTimeout: 0,
    maxDelay: 8_000,
  });
  // Known from the first token: until then nobody in the room reads "(you)".
  chat.self = '';
  presence.self = '';
  // A new client is not in the room yet: who is here is unknown until it subscribes.
  presence.unknown();
  nameInput.value = user;
  narrateLifecycle(client, timeline, stop.signal);
  const room = new Room(client, user, () => tokens.id, { chat, presence, timeline });
  live = { user, client, room, tokens, stop };
  window.__demo = { client, user, stats: () => room.stats, network };

  client.addEventListener('statechange', (event) => render(client, event.to, event.from), on);
  // A new link carries a fresh token (see TokenSource.url): whatever was let expire is over.
  client.addEventListener('connecting', () => (expiring = false), on);
  client.addEventListener('open', () => sparkline.measuring(), on);
  client.addEventListener('session', (event) => {
    facts.session.textContent = short(event.id);
    facts.session.title = event.id;
  }, on);
  client.addEventListener('close', (event) => {
    facts.close.textContent = `${event.code} ${describeCloseCode(event.code).name}`;
    facts.close.title = event.reason;
    tokenClock.clear();
  }, on);
  render(client, client.state);
}

// ---- controls -----------------------------------------------------------------------------------

buttons.drop.addEventListener('click', () => {
  const current = live;
  if (!current) return;
  timeline.add({ kind: 'drop', state: 'closed', title: 'asked the server to drop this link', detail: 'request demo.drop: the server ends the TCP connection with no close frame' });
  let dropped = false;
  current.client.addEventListener('close', () => (dropped = true), { once: true, signal: current.stop.signal });
  current.client.request('demo.drop').then(
    () => {
      if (dropped) {
        timeline.add({
          kind: 'request',
          state: 'ready',
          title: 'demo.drop answered after the resume',
          detail: 'its reply was lost with the link; the client resent the request with its id and got the stored reply: the drop ran once',
        });
      }
    },
    (error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      timeline.add({ kind: 'error', state: 'closed', title: 'demo.drop failed', detail: message });
    },
  );
});

buttons.offline.addEventListener('click', () => {
  const offline = network.online;
  buttons.offline.setAttribute('aria-pressed', String(offline));
  buttons.offline.textContent = offline ? 'Back online' : 'Go offline';
  // Told first: coming back online starts the next attempt at once, and its entries follow this one.
  timeline.add(
    offline
      ? { kind: 'offline', state: 'paused', title: 'network off (simulated in this page)', detail: 'nothing goes in or out and no close event comes, as on a pulled cable: the heartbeat (a ping every 2 s, two missed allowed) has to notice' }
      : { kind: 'online', state: 'connecting', title: 'network back', detail: 'a waiting client connects at once instead of sitting out its backoff' },
  );
  network.setOnline(!offline);
  if (offline) chat.relabel('sending', 'offline');
  else chat.relabel('offline', 'queued');
});

buttons.expire.addEventListener('click', () => {
  const current = live;
  if (!current) return;
  expiring = true;
  buttons.expire.disabled = true;
  current.tokens.shortLived().then(
    (credentials) => {
      // Sent as a refresh on the live link, as the client itself would: the server now expires it in 5 s.
      current.client.transport.send(JSON.stringify({ type: 'refresh', token: credentials.token }));
      timeline.add({
        kind: 'token',
        state: 'reconnecting',
        title: 'short-lived token (5 s), refreshes withheld',
        detail: 'the server will close with 4000 when it expires; the client then fetches a fresh token and resumes',
      });
    },
    (error: unknown) => {
      expiring = false;
      timeline.add({ kind: 'error', state: 'closed', title: 'no short-lived token', detail: error instanceof Error ? error.message : String(error) });
    },
  );
});

buttons.close.addEventListener('click', () => {
  const client = live?.client;
  if (!client) return;
  if (client.state === 'closed') client.reconnect();
  else client.transport.close(1000, 'closed from the demo page');
});

buttons.clear.addEventListener('click', () => timeline.clear());

identity.addEventListener('submit', (event) => {
  event.preventDefault();
  const name = nameInput.value.trim();
  if (!NAME_PATTERN.test(name) || name === live?.user) return;
  rememberName(name);
  chat.system(`Now chatting as ${name} (a new session)`);
  start(name);
});

start(storedName());
