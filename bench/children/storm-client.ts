// Real reconnecting clients for the reconnect storm, many per process: `node storm-client.js`.
// Lifeline uses its own LifelineClient (its backoff, its reading of the server's retry hint,
// its resubscribe with `since`); raw `ws` gets the exponential backoff with full jitter a
// careful user writes by hand; Socket.IO uses socket.io-client's built-in reconnection.
import { randomInt } from 'node:crypto';
import { WebSocket } from 'ws';
import { io } from 'socket.io-client';
import { LifelineClient, NodeWebSocket } from '../../src/client/node.js';
import type { Position } from '../../src/core/position.js';
import { nowMs, numberArg, optionalString, serve, stringArg, usage, type Handlers } from '../process/rpc.js';
import { STORM_CHANNEL } from './servers/bench-server.js';

interface Client {
  /** The last position (Lifeline) or head (others) this client holds. */
  head: number;
  /** Since the harness armed: the link went down (and the client has not been counted back yet). */
  wentDown: boolean;
  backAt: number | undefined;
  close(): void;
}

const clients: Client[] = [];
let target = 0;
let waiting: { remaining: number; settle: () => void } | undefined;
let armedDone: Promise<void> = Promise.resolve();

/** The client holds `head` now: count it back if it had gone down since the harness armed. */
function caughtUp(client: Client, head: number): void {
  client.head = head;
  if (head < target || client.backAt !== undefined || !client.wentDown) return;
  client.backAt = nowMs();
  if (waiting && --waiting.remaining === 0) waiting.settle();
}

function lifelineClient(url: string, localAddress: string | undefined): Client {
  class LocalWebSocket extends NodeWebSocket {
    constructor(address: string | URL, protocols?: string | string[]) {
      super(address, protocols, localAddress === undefined ? {} : { localAddress });
    }
  }
  const lifeline = new LifelineClient(url, { WebSocket: LocalWebSocket });
  const client: Client = { head: 0, wentDown: false, backAt: undefined, close: () => lifeline.close() };
  const seen = (position: Position): void => caughtUp(client, position.offset);
  lifeline.subscribe(STORM_CHANNEL, { event: (event) => seen(event.position), subscribed: (event) => seen(event.position) });
  lifeline.addEventListener('close', () => (client.wentDown = true));
  return client;
}

/** Full jitter: uniform in [0, min(30 s, 1 s * 2^attempt)]. */
function backoff(attempt: number): number {
  return randomInt(0, Math.min(30_000, 1000 * 2 ** attempt) + 1);
}

function wsClient(url: string, localAddress: string | undefined): Client {
  let stopped = false;
  let socket: WebSocket | undefined;
  const client: Client = {
    head: 0,
    wentDown: false,
    backAt: undefined,
    close: () => {
      stopped = true;
      socket?.terminate();
    },
  };
  const open = (attempt: number): void => {
    const ws = new WebSocket(url, localAddress === undefined ? {} : { localAddress });
    socket = ws;
    let opened = false;
    ws.on('open', () => {
      opened = true;
      ws.send(JSON.stringify({ type: 'sub', channel: STORM_CHANNEL }));
    });
    ws.on('message', (data) => {
      const message = JSON.parse(String(data)) as { type?: string; head?: number };
      if (message.type === 'subbed') caughtUp(client, message.head ?? 0);
    });
    ws.on('error', () => undefined);
    ws.on('close', () => {
      client.wentDown = true;
      if (stopped) return;
      const next = opened ? 0 : attempt + 1;
      setTimeout(() => open(next), backoff(next));
    });
  };
  open(0);
  return client;
}

function socketIoClient(url: string, localAddress: string | undefined): Client {
  const socket = io(url, { transports: ['websocket'], ...(localAddress === undefined ? {} : { localAddress }) });
  const client: Client = { head: 0, wentDown: false, backAt: undefined, close: () => socket.close() };
  socket.on('connect', () => socket.emit('join', STORM_CHANNEL, (reply: { head?: number }) => caughtUp(client, reply.head ?? 0)));
  socket.on('disconnect', () => (client.wentDown = true));
  return client;
}

function until(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const deadline = setTimeout(() => {
      clearInterval(poll);
      resolve(false);
    }, timeoutMs);
    const poll = setInterval(() => {
      if (!predicate()) return;
      clearTimeout(deadline);
      clearInterval(poll);
      resolve(true);
    }, 20);
  });
}

const handlers: Handlers = {
  /** Starts `count` clients, a few at a time; resolves once every one holds `head`. */
  async start(args) {
    const variant = stringArg(args, 'variant');
    const port = numberArg(args, 'port');
    const count = numberArg(args, 'count');
    const head = numberArg(args, 'head');
    const localAddress = optionalString(args, 'localAddress');
    const make = variant === 'socketio' ? socketIoClient : variant === 'ws' ? wsClient : lifelineClient;
    const url = variant === 'socketio' ? `http://127.0.0.1:${port}` : `ws://127.0.0.1:${port}/ws`;
    const batch = numberArg(args, 'batch');
    for (let made = 0; made < count; made += batch) {
      for (let i = made; i < Math.min(count, made + batch); i++) clients.push(make(url, localAddress));
      const ready = made + batch;
      await until(() => clients.filter((c) => c.head >= head).length >= Math.min(count, ready), 30_000);
    }
    const all = await until(() => clients.every((c) => c.head >= head), numberArg(args, 'timeoutMs'));
    if (!all) throw new Error(`${clients.filter((c) => c.head < head).length} of ${count} clients did not catch up at start`);
    return { clients: clients.length };
  },
  /** From now on, a client is back once its link went down and it holds `head` again. */
  arm(args) {
    target = numberArg(args, 'head');
    for (const client of clients) {
      client.wentDown = false;
      client.backAt = undefined;
    }
    let settle = (): void => undefined;
    const done = new Promise<void>((resolve) => (settle = resolve));
    waiting = { remaining: clients.length, settle };
    armedDone = done;
  },
  /** Waits (bounded) until every client is back; reports how many made it and when each did. */
  async done(args) {
    const timeoutMs = numberArg(args, 'timeoutMs');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([armedDone, new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    const times = clients.flatMap((c) => (c.backAt === undefined ? [] : [c.backAt]));
    return { total: clients.length, back: times.length, wentDown: clients.filter((c) => c.wentDown).length, times };
  },
  usage: () => usage(),
  closeAll() {
    for (const client of clients.splice(0)) client.close();
  },
};

serve(handlers);
