// What one hostile `lifeline.v1` client makes a server hold: a Lifeline server from the sources
// (in this process, the in-memory broker) and one raw ws client run a scenario; the server's heap
// is read after two full collections before and after it, and the growth is printed with what the
// scenario sent. A figure that grows with what was sent, past the limits set, is a hole.
//
//   node --expose-gc --import tsx bench/abuse.ts SCENARIO [--n N] [--size BYTES]
//
// keys      N publishes of SIZE bytes to one channel, each under a new idempotency key
// channels  N publishes of SIZE bytes, each to a new channel
// rewind    N subscribe + unsubscribe pairs, each rewinding 1000 events of SIZE bytes
// directs   N direct messages of SIZE bytes from the app to the client's session, never acknowledged
// slow      N requests of SIZE bytes sent at once to a method whose handler answers only at its
//           timeout (requestTimeout, 10 s): what waits behind the first one
//
// The history budget is 8 MiB throughout (a server's default is 64 MiB), and the message rate is
// not limited: at the default 1000 messages/s the same figures take longer (or more clients).
import { pino } from 'pino';
import WebSocket from 'ws';
import { MemoryBroker } from '../src/broker/memory-broker.js';
import { startServer, type ServerFixture } from '../src/testing/server-fixture.js';

const HISTORY_BUDGET = 8 * 1024 * 1024;

type Sent = Record<string, unknown> & { readonly type: string };

interface Scenario {
  readonly what: string;
  run(client: Client, n: number, size: number, fixture: ServerFixture<unknown>): Promise<void>;
}

/** A raw client that awaits each reply by id (no client library in the way). */
class Client {
  readonly #waiting = new Map<number, (reply: Sent) => void>();
  #next: ((message: Sent) => void) | undefined;
  /** The session its welcome named. */
  session = '';

  constructor(readonly ws: WebSocket) {
    ws.on('close', (code: number, reason: Buffer) => {
      console.error(`closed by the server: ${code} ${reason.toString('utf8')}`);
      process.exit(1);
    });
    ws.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString('utf8')) as Sent;
      if (typeof message.id === 'number' && this.#waiting.has(message.id)) {
        this.#waiting.get(message.id)?.(message);
        this.#waiting.delete(message.id);
      } else if (message.type !== 'ping') this.#next?.(message);
    });
  }

  send(message: Sent): void {
    this.ws.send(JSON.stringify(message));
  }

  /** Sends a message with an id and resolves with its reply. */
  ask(message: Sent & { readonly id: number }): Promise<Sent> {
    const reply = new Promise<Sent>((resolve) => this.#waiting.set(message.id, resolve));
    this.send(message);
    return reply;
  }

  nextMessage(): Promise<Sent> {
    return new Promise((resolve) => (this.#next = resolve));
  }
}

function acked(reply: Sent): void {
  if (reply.type !== 'ack') throw new Error(`not acknowledged: ${JSON.stringify(reply).slice(0, 200)}`);
}

const scenarios: Record<string, Scenario> = {
  keys: {
    what: 'publishes to one channel, each under a new idempotency key',
    async run(client, n, size) {
      const data = 'x'.repeat(size);
      for (let id = 1; id <= n; id++) acked(await client.ask({ type: 'publish', id, channel: 'doc:1', data: `${data}${id}`, idempotencyKey: `k-${id}` }));
    },
  },
  channels: {
    what: 'publishes, each to a new channel',
    async run(client, n, size) {
      const data = 'x'.repeat(size);
      for (let id = 1; id <= n; id++) acked(await client.ask({ type: 'publish', id, channel: `doc:${id}`, data: `${data}${id}` }));
    },
  },
  slow: {
    what: 'requests pipelined behind one whose handler is slow (it answers within requestTimeout)',
    async run(client, n, size, fixture) {
      const params = 'x'.repeat(size);
      const read = fixture.server.stats.messagesIn + n;
      for (let id = 1; id <= n; id++) client.send({ type: 'request', id, method: 'slow', params: `${params}${id}` });
      // Until the server has read them all, or stopped reading (then what it holds is bounded).
      for (let round = 0; round < 200 && fixture.server.stats.messagesIn < read; round++) {
        const before = fixture.server.stats.messagesIn;
        await new Promise((resolve) => setTimeout(resolve, 100));
        if (fixture.server.stats.messagesIn === before && round > 10) break;
      }
      console.log(`server read ${n - (read - fixture.server.stats.messagesIn)} of the ${n} requests`);
    },
  },
  rewind: {
    what: 'subscribes rewinding the whole history of a channel of 1000 events, each followed by an unsubscribe',
    async run(client, n, size, fixture) {
      const data = 'x'.repeat(size);
      for (let offset = 1; offset <= 1000; offset++) await fixture.server.publish('doc:big', data);
      const cpu = process.cpuUsage();
      const bytes = fixture.server.stats.bytesOut;
      const started = Date.now();
      for (let id = 1; id <= n; id++) {
        const subscribed = await client.ask({ type: 'subscribe', id: 2 * id, channel: 'doc:big', rewind: { count: 10_000 } });
        if (subscribed.type !== 'subscribed') throw new Error(JSON.stringify(subscribed));
        await client.ask({ type: 'unsubscribe', id: 2 * id + 1, channel: 'doc:big' });
      }
      const used = process.cpuUsage(cpu);
      const seconds = (Date.now() - started) / 1000;
      console.log(`${2 * n} messages in, ${((fixture.server.stats.bytesOut - bytes) / 2 ** 20).toFixed(0)} MB out in ${seconds.toFixed(1)} s; process CPU ${((used.user + used.system) / 1e6).toFixed(1)} s (${((used.user + used.system) / 1e4 / seconds).toFixed(0)}% of a core, the client included)`);
    },
  },
  directs: {
    what: 'direct messages the app sends to the client, which never acknowledges them',
    async run(client, n, size, fixture) {
      const data = 'x'.repeat(size);
      for (let n0 = 0; n0 < n; n0++) await fixture.server.sendTo(client.session, `${data}${n0}`);
    },
  },
};

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
}

const name = process.argv[2] ?? '';
const scenario = scenarios[name];
if (!scenario) {
  console.error(`usage: node --expose-gc --import tsx bench/abuse.ts ${Object.keys(scenarios).join('|')} [--n N] [--size BYTES]`);
  process.exit(2);
}
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const n = option('--n', 400);
const size = option('--size', 256 * 1024);

const fixture = await startServer({ logger: pino({ level: 'silent' }), pingInterval: 0, maxMessageRate: Infinity, maxPayload: 2 * size + 1024, historyBudget: HISTORY_BUDGET, channels: { doc: { history: { size: 1000, ttl: 600_000 } } } });
const ws = new WebSocket(fixture.wsUrl, 'lifeline.v1');
await new Promise((resolve, reject) => {
  ws.once('open', resolve);
  ws.once('error', reject);
});
fixture.server.handle('slow', (_params, { signal }) => new Promise((resolve) => signal.addEventListener('abort', () => resolve(null))));
const client = new Client(ws);
const welcomed = client.nextMessage();
client.send({ type: 'hello', v: 1 });
client.session = String((await welcomed).session);

const heap = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};
const before = heap();
await scenario.run(client, n, size, fixture);
const growth = heap() - before;
const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);
console.log(`${name}: ${n} ${scenario.what}, ${size} bytes each (${mb(n * size)} MB sent); history budget ${mb(HISTORY_BUDGET)} MB`);
const { broker } = fixture.server;
console.log(`server heap growth: ${mb(growth)} MB (history kept: ${broker instanceof MemoryBroker ? mb(broker.history.bytes) : '?'} MB)`);
ws.removeAllListeners('close');
ws.close();
await fixture.close();
