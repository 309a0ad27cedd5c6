/**
 * The demo page's script (bundled by scripts/bundle-demo.mjs into /client.js). It drives a real
 * `ReconnectingWebSocket` against the server that served the page and shows its lifecycle.
 */
import { ReconnectingWebSocket, type ClientState } from '../client/index.js';
import { ChatView } from './chat.js';
import { showState } from './diagram.js';
import { byId } from './dom.js';
import { narrateLifecycle } from './lifecycle.js';
import { Timeline } from './timeline.js';

declare global {
  interface Window {
    /** The page's client, for browser tests and for poking at from the console. */
    __lifeline?: ReconnectingWebSocket;
  }
}

/** The server writes its WebSocket path into a meta tag; anything else serving the page gets /ws. */
function endpointUrl(): string {
  const meta = document.querySelector<HTMLMetaElement>('meta[name="lifeline-endpoint"]')?.content ?? '';
  const path = meta.startsWith('/') ? meta : '/ws';
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${path}`;
}

interface ServerMessage {
  readonly type: string;
  readonly [field: string]: unknown;
}

function parse(data: unknown): ServerMessage | undefined {
  if (typeof data !== 'string') return undefined;
  try {
    const value: unknown = JSON.parse(data);
    return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string' ? (value as ServerMessage) : undefined;
  } catch {
    return undefined;
  }
}

const url = endpointUrl();
// heartbeat: the server's app pings feed the watchdog and never reach `message` listeners.
const client = new ReconnectingWebSocket(url, undefined, { heartbeat: true });
window.__lifeline = client;

const diagram = byId('diagram', SVGSVGElement);
const pill = byId('status-pill', HTMLDivElement);
const facts = {
  close: byId('fact-close', HTMLElement),
  attempt: byId('fact-attempt', HTMLElement),
  online: byId('fact-online', HTMLElement),
  queued: byId('fact-queued', HTMLElement),
  id: byId('fact-id', HTMLElement),
};
const onlineCount = byId('online-count', HTMLElement);
const onlineBadge = byId('online-badge', HTMLElement);
const buttons = {
  drop: byId('btn-drop', HTMLButtonElement),
  close: byId('btn-close', HTMLButtonElement),
  reconnect: byId('btn-reconnect', HTMLButtonElement),
  clear: byId('btn-clear', HTMLButtonElement),
};
byId('endpoint', HTMLElement).textContent = url;

const timeline = new Timeline(byId('timeline', HTMLOListElement));
const chat = new ChatView((name, text) => {
  const outcome = client.send(JSON.stringify({ type: 'chat', name, text }));
  facts.queued.textContent = String(client.queued);
  return outcome;
});

function render(to: ClientState, from?: ClientState): void {
  showState(diagram, to, from);
  pill.dataset.state = to;
  byId('status-text', HTMLElement).textContent = to;
  facts.attempt.textContent = String(client.attempt);
  facts.queued.textContent = String(client.queued);
  buttons.drop.disabled = to !== 'open';
  buttons.close.disabled = to === 'closed' || to === 'closing';
  if (to !== 'open') setOnline(undefined);
}

function setOnline(count: number | undefined): void {
  const text = count === undefined ? '–' : String(count);
  facts.online.textContent = text;
  onlineCount.textContent = text;
  onlineBadge.classList.toggle('is-live', count !== undefined);
}

narrateLifecycle(client, timeline);
client.addEventListener('statechange', (event) => render(event.to, event.from));
client.addEventListener('open', () => chat.opened());
client.addEventListener('close', (event) => {
  facts.close.textContent = String(event.code);
  facts.close.title = event.reason;
});
client.addEventListener('message', (event) => {
  const message = parse(event.data);
  if (message === undefined) return;
  if (message.type === 'welcome') {
    facts.id.textContent = String(message.id);
    facts.id.title = String(message.id);
    setOnline(Number(message.online));
  } else if (message.type === 'presence') {
    setOnline(Number(message.online));
  } else if (message.type === 'chat') {
    chat.add({ name: String(message.name), text: String(message.text), at: Number(message.at) });
  } else if (message.type === 'error') {
    chat.note(`Server: ${String(message.message)}`, true);
  }
});

// The server terminates this socket on request: no close frame, so the client sees a real 1006.
buttons.drop.addEventListener('click', () => client.send(JSON.stringify({ type: 'debug.drop' })));
buttons.close.addEventListener('click', () => client.close(1000, 'closed from the demo page'));
buttons.reconnect.addEventListener('click', () => client.reconnect());
buttons.clear.addEventListener('click', () => timeline.clear());
render(client.state);
