/**
 * The admin page's script (bundled by scripts/bundle-demo.mjs into /admin.js): polls
 * `/admin/api/snapshot` once a second with the admin key and draws what it says.
 */
import { byId, clockTime } from '../dom.js';
import { compact, LineChart, renderCloseBars } from './charts.js';
import { forgetKey, initialKey, saveKey } from './key.js';
import { byCode, History, parseSnapshot, type AdminSnapshot, type Sample } from './snapshot.js';
import { age, bytes, refusals, renderChannels, renderConnections } from './tables.js';

const POLL_MS = 1000;
/** While the tab is hidden nobody looks: poll slower. */
const HIDDEN_POLL_MS = 5000;

declare global {
  interface Window {
    /** The last snapshot drawn and the chart samples, for browser tests. */
    __admin?: { readonly snapshot: AdminSnapshot | undefined; readonly samples: readonly Sample[]; readonly polls: number };
  }
}

const status = byId('admin-status', HTMLDivElement);
const statusText = byId('admin-status-text', HTMLElement);
const keyCard = byId('key-card', HTMLElement);
const keyForm = byId('key-form', HTMLFormElement);
const keyInput = byId('key-input', HTMLInputElement);
const keyError = byId('key-error', HTMLElement);
const dashboard = byId('dashboard', HTMLElement);
const lock = byId('btn-lock', HTMLButtonElement);
const text = (id: string): HTMLElement => byId(id, HTMLElement);

const history = new History(120_000);
const openChart = new LineChart(byId('chart-open', SVGSVGElement), history.windowMs, 4);
const rateChart = new LineChart(byId('chart-rate', SVGSVGElement), history.windowMs, 4);

let key = initialKey();
let timer: ReturnType<typeof setTimeout> | undefined;
let latest: AdminSnapshot | undefined;
let polls = 0;
let inFlight = false;

function setStatus(state: string, label: string): void {
  status.dataset.state = state;
  statusText.textContent = label;
}

function askForKey(message: string): void {
  key = undefined;
  forgetKey();
  keyCard.hidden = false;
  dashboard.hidden = true;
  lock.hidden = true;
  keyError.textContent = message;
  setStatus('paused', 'locked');
  keyInput.focus();
}

function schedule(): void {
  clearTimeout(timer);
  timer = setTimeout(() => void poll(), document.hidden ? HIDDEN_POLL_MS : POLL_MS);
}

/** One poll at a time; the next is scheduled when this one is done, so a slow server is never flooded. */
async function poll(): Promise<void> {
  const current = key;
  if (current === undefined) return askForKey('');
  if (inFlight) return;
  clearTimeout(timer);
  inFlight = true;
  try {
    await pollOnce(current);
  } finally {
    inFlight = false;
  }
}

async function pollOnce(current: string): Promise<void> {
  let response: Response;
  try {
    response = await fetch('/admin/api/snapshot', { headers: { Authorization: `Bearer ${current}` }, cache: 'no-store' });
  } catch {
    setStatus('reconnecting', 'unreachable');
    return schedule();
  }
  if (current !== key) return schedule(); // the key changed while this poll was out
  if (response.status === 401 || response.status === 403) return askForKey('The server refused this key.');
  const snapshot = response.ok ? parseSnapshot(await response.json().catch(() => undefined)) : undefined;
  if (!snapshot) {
    setStatus('closed', `HTTP ${response.status}`);
    return schedule();
  }
  polls++;
  draw(snapshot);
  schedule();
}

function draw(snapshot: AdminSnapshot): void {
  latest = snapshot;
  const sample = history.push(snapshot);
  keyCard.hidden = true;
  dashboard.hidden = false;
  lock.hidden = false;
  setStatus('ready', 'live');
  const { totals, connections } = snapshot;
  const handshakes = byCode(totals.handshakes);
  const closes = byCode(totals.closes);
  // `$`-named channels are the server's own (presence companions): not something an operator made.
  const channels = snapshot.channels.filter((row) => !row.channel.startsWith('$'));
  // Every figure is this node's (`scope: 'node'`): in a cluster, each node has its own page.
  text('meta-node').textContent = snapshot.node || '–';
  text('meta-uptime').textContent = age(snapshot.uptime * 1000);
  text('meta-updated').textContent = clockTime(snapshot.at || Date.now()).slice(0, 8);

  text('tile-open').textContent = String(connections.open);
  text('tile-open-sub').textContent = `${channels.length} channel${channels.length === 1 ? '' : 's'} with subscribers`;
  text('tile-in-rate').textContent = sample.inRate === undefined ? '–' : compact(sample.inRate);
  text('tile-out-rate').textContent = sample.outRate === undefined ? '–' : compact(sample.outRate);
  text('tile-in-total').textContent = compact(totals.messagesIn);
  text('tile-out-total').textContent = compact(totals.messagesOut);
  text('tile-bytes-in').textContent = bytes(totals.bytesIn);
  text('tile-bytes-out').textContent = bytes(totals.bytesOut);
  text('tile-accepted').textContent = `${compact(handshakes.get(101) ?? 0)} accepted`;
  text('tile-refused').textContent = refusals(handshakes);
  text('tile-dropped').textContent = compact(totals.heartbeatTerminations + totals.slowConsumerCloses);
  text('tile-heartbeat').textContent = compact(totals.heartbeatTerminations);
  text('tile-slow').textContent = compact(totals.slowConsumerCloses);
  // Exact numbers for tests and for anyone who wants more than the rounded tiles.
  text('tile-in-total').dataset.value = String(totals.messagesIn);
  text('tile-out-total').dataset.value = String(totals.messagesOut);
  text('tile-open').dataset.value = String(connections.open);

  const samples = history.samples;
  const now = snapshot.at;
  openChart.render([{ className: 'series-open', area: true, points: samples.map((s) => [s.at, s.open] as const) }], now);
  rateChart.render(
    [
      { className: 'series-in', area: true, points: samples.map((s) => [s.at, s.inRate] as const) },
      { className: 'series-out', points: samples.map((s) => [s.at, s.outRate] as const) },
    ],
    now,
  );
  byId('chart-open', SVGSVGElement).setAttribute('aria-label', `Open connections over up to the last 2 minutes; now ${connections.open}`);
  byId('chart-rate', SVGSVGElement).setAttribute(
    'aria-label',
    `Messages per second over up to the last 2 minutes; now ${sample.inRate === undefined ? 'unknown' : compact(sample.inRate)} in, ${sample.outRate === undefined ? 'unknown' : compact(sample.outRate)} out`,
  );
  renderCloseBars(byId('close-bars', HTMLOListElement), closes);
  text('closes-count').textContent = compact([...closes.values()].reduce((sum, n) => sum + n, 0));

  renderChannels(byId('channels-body', HTMLTableSectionElement), channels);
  text('channels-count').textContent = String(channels.length);
  renderConnections(byId('connections-body', HTMLTableSectionElement), connections.list);
  text('connections-count').textContent = String(connections.open);
  const note = text('connections-note');
  note.hidden = !connections.truncated;
  note.textContent = `Showing ${connections.list.length} of ${connections.open} connections.`;
  window.__admin = { snapshot: latest, samples, polls };
}

keyForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const value = keyInput.value.trim();
  if (value === '') return;
  key = value;
  saveKey(value);
  keyInput.value = '';
  keyError.textContent = '';
  setStatus('connecting', 'checking');
  void poll();
});

lock.addEventListener('click', () => {
  clearTimeout(timer);
  askForKey('');
});

document.addEventListener('visibilitychange', () => {
  if (!document.hidden && key !== undefined) void poll();
});

if (key === undefined) askForKey('');
else void poll();
