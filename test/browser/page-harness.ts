/**
 * Runs IN THE BROWSER (bundled by esbuild, served as /harness.js after /client.js): drives one
 * ReconnectingWebSocket from `window.Lifeline` and records everything it and the page report,
 * with the page's own clock, into a log the Node side reads through `page.evaluate`.
 * Only type imports here: the client code comes from the client bundle.
 */
import type * as LifelineClient from '../../src/client/index.js';
import type { ClientOptions, ClientState, HeartbeatOptions, ReconnectingWebSocket, SendOutcome } from '../../src/client/index.js';

export type LogType =
  | 'start'
  | 'connecting'
  | 'open'
  | 'message'
  | 'close'
  | 'error'
  | 'reconnecting'
  | 'giveup'
  | 'statechange'
  | 'visibilitychange'
  | 'online'
  | 'offline';

/** One thing that happened in the page, stamped with `performance.now()` and the client's state. */
export interface LogEntry {
  readonly type: LogType;
  readonly t: number;
  readonly state: ClientState | 'none';
  readonly code?: number;
  readonly reason?: string;
  readonly wasClean?: boolean;
  readonly willReconnect?: boolean;
  readonly action?: string;
  readonly attempt?: number;
  readonly delay?: number;
  readonly data?: string;
  readonly from?: ClientState;
  readonly to?: ClientState;
  readonly visibility?: string;
  readonly online?: boolean;
}

/** The client options a test can pass across the page boundary (plain data only). */
export type PageClientOptions = Pick<ClientOptions, 'initialDelay' | 'maxDelay' | 'factor' | 'maxAttempts' | 'jitter' | 'connectTimeout' | 'stabilityWindow'> & {
  /** Turned into the opt-in module in the page: `withHeartbeat(heartbeat)`. */
  readonly heartbeat?: boolean | Partial<HeartbeatOptions>;
};

export interface PageHarness {
  readonly log: LogEntry[];
  /** Creates the client (only one per page). */
  start(url: string, options: PageClientOptions): void;
  state(): ClientState | 'none';
  readyState(): number;
  send(data: string): SendOutcome;
  /** Sends each item in order; returns what `send` said for each. */
  sendAll(items: readonly string[]): SendOutcome[];
  /** Index of the first entry at or after `from` whose fields equal all of `match`'s, or -1. */
  find(match: Partial<LogEntry>, from?: number): number;
  count(type: LogType, from?: number): number;
  /** How many `type` entries are logged during the next `ms`, measured by the page's own timer. */
  countDuring(type: LogType, ms: number): Promise<number>;
  dispose(): void;
}

declare global {
  interface Window {
    Lifeline: typeof LifelineClient;
    harness: PageHarness;
  }
}

const log: LogEntry[] = [];
let client: ReconnectingWebSocket | undefined;

function record(entry: Omit<LogEntry, 't' | 'state'>): void {
  log.push({ t: performance.now(), state: client?.state ?? 'none', ...entry });
}

function matches(entry: LogEntry, match: Partial<LogEntry>): boolean {
  for (const key of Object.keys(match) as (keyof LogEntry)[]) {
    if (entry[key] !== match[key]) return false;
  }
  return true;
}

function find(match: Partial<LogEntry>, from = 0): number {
  for (let i = from; i < log.length; i++) {
    const entry = log[i];
    if (entry && matches(entry, match)) return i;
  }
  return -1;
}

function count(type: LogType, from = 0): number {
  let n = 0;
  for (let i = from; i < log.length; i++) if (log[i]?.type === type) n++;
  return n;
}

function need(): ReconnectingWebSocket {
  if (!client) throw new Error('harness: start() the client first');
  return client;
}

document.addEventListener('visibilitychange', () => record({ type: 'visibilitychange', visibility: document.visibilityState }));
window.addEventListener('online', () => record({ type: 'online', online: navigator.onLine }));
window.addEventListener('offline', () => record({ type: 'offline', online: navigator.onLine }));

window.harness = {
  log,
  start(url, options) {
    if (client) throw new Error('harness: one client per page');
    record({ type: 'start' });
    const { heartbeat, ...rest } = options;
    // Page awareness (retries wait while hidden or offline) and retry hints are opt-in: the page tests turn them on.
    const ws = new window.Lifeline.ReconnectingWebSocket(url, undefined, { ...rest, heartbeat: window.Lifeline.withHeartbeat(heartbeat ?? false), environment: window.Lifeline.browserEnvironment(), pageAwareness: window.Lifeline.withPageAwareness(), retryHints: window.Lifeline.withRetryHints() });
    client = ws;
    ws.addEventListener('connecting', (e) => record({ type: 'connecting', attempt: e.attempt }));
    ws.addEventListener('open', () => record({ type: 'open' }));
    ws.addEventListener('message', (e) => record({ type: 'message', data: typeof e.data === 'string' ? e.data : '(binary)' }));
    ws.addEventListener('close', (e) =>
      record({ type: 'close', code: e.code, reason: e.reason, wasClean: e.wasClean, willReconnect: e.willReconnect, action: e.action }),
    );
    ws.addEventListener('error', (e) => record({ type: 'error', reason: e.error.message }));
    ws.addEventListener('reconnecting', (e) => record({ type: 'reconnecting', attempt: e.attempt, delay: e.delay, code: e.code, reason: e.reason }));
    ws.addEventListener('giveup', (e) => record({ type: 'giveup', attempt: e.attempts, code: e.code, reason: e.reason }));
    ws.addEventListener('statechange', (e) => record({ type: 'statechange', from: e.from, to: e.to }));
  },
  state: () => client?.state ?? 'none',
  readyState: () => need().readyState,
  send: (data) => need().send(data),
  sendAll: (items) => items.map((data) => need().send(data)),
  find,
  count,
  countDuring(type, ms) {
    const before = count(type);
    return new Promise((resolve) => setTimeout(() => resolve(count(type) - before), ms));
  },
  dispose() {
    client?.dispose();
  },
};
