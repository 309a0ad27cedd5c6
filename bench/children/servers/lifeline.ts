// Lifeline as its users write it: `createServer` with a channel namespace; fan-out through
// `server.publish` (inside the server process, like the other stacks' publishers), echo through
// the `message` event of plain connections.
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { createServer, MemoryBroker, type Broker, type LifelineServer } from '../../../src/server/index.js';
import { answerHealth, CATCHUP_CHANNEL, FANOUT_CHANNEL, STORM_CHANNEL, type BenchServer, type ListenConfig, type RedisConfig, type ShutdownHint, eventData } from './bench-server.js';

interface RedisBrokerModule {
  readonly RedisBroker: { connect(options: { readonly url: string; readonly prefix: string }): Promise<Broker> };
}

function isRedisModule(value: unknown): value is RedisBrokerModule {
  const broker = (value as { RedisBroker?: { connect?: unknown } } | null)?.RedisBroker;
  return typeof broker?.connect === 'function';
}

async function redisBroker(config: RedisConfig): Promise<Broker> {
  const loaded: unknown = await import(pathToFileURL(config.module).href);
  if (!isRedisModule(loaded)) throw new Error(`${config.module} exports no RedisBroker.connect`);
  return loaded.RedisBroker.connect({ url: config.url, prefix: config.prefix });
}

export class LifelineBench implements BenchServer {
  #server: LifelineServer | undefined;

  async listen(config: ListenConfig, onAccept: () => void): Promise<number> {
    const epoch = config.epoch;
    const broker = config.redis ? await redisBroker(config.redis) : epoch === undefined ? undefined : new MemoryBroker({ newEpoch: () => epoch });
    const server = createServer({
      port: config.port,
      channels: { bench: { history: { size: 1000, ttl: 60_000 } } },
      logger: pino({ level: 'error' }),
      // The echo scenario measures throughput per connection: the production message-rate
      // limit (1000/s by default) would close its clients, and the other stacks have none.
      maxMessageRate: Infinity,
      onRequest: answerHealth,
      ...(broker ? { broker } : {}),
    });
    this.#server = server;
    server.on('connection', onAccept);
    server.on('message', (connection, message) => {
      if (message.type === 'echo') connection.send(message);
    });
    server.handle('echo', (params) => params);
    for (let seq = 1; seq <= config.prepublish; seq++) await server.publish(STORM_CHANNEL, { seq });
    return (await server.listen()).port;
  }

  async publish(seq: number, body: string, t?: number): Promise<void> {
    await this.#require().publish(FANOUT_CHANNEL, eventData(seq, body, t));
  }

  async fillHistory(events: number, body: string): Promise<{ readonly epoch: string }> {
    let epoch = '';
    for (let seq = 1; seq <= events; seq++) epoch = (await this.#require().publish(CATCHUP_CHANNEL, { seq, body })).epoch;
    return { epoch };
  }

  connections(): number {
    return this.#require().connections.size;
  }

  shutdown(hint: ShutdownHint): Promise<void> {
    return this.#require().close({ code: 1012, ...hint });
  }

  #require(): LifelineServer {
    if (!this.#server) throw new Error('not listening');
    return this.#server;
  }
}
