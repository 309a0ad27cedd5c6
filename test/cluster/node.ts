/**
 * One Lifeline node of a test deployment (not a test file): a server on an ephemeral port over
 * a RedisBroker, driven through stdin by the cluster tests.
 *
 *   node --import tsx test/cluster/node.ts REDIS_URL PREFIX
 *
 * Prints `listening ws://127.0.0.1:PORT/ws`. Commands on stdin, one per line:
 *   publish CHANNEL JSON   -> `published CHANNEL EPOCH OFFSET` or `publish-failed CODE`
 *   status                 -> `status ready=true|false sessions=N publish-failures=N`
 *   history CHANNEL EPOCH  -> `history JSON` (the page since EPOCH/0) or `history-failed CODE`
 *   hold CHANNEL           -> `holding`; from now on each subscribe to CHANNEL waits (printing
 *                             `held CHANNEL`) until `release`
 *   release                -> `released N`: the held subscribes go on, and no more are held
 *   drop                   -> `dropped N`: every connection is cut (terminated, no close frame)
 */
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import type { LifelineLogger } from '../../src/core/logger.js';
import { RedisBroker } from '../../src/redis/index.js';
import { createServer } from '../../src/server/index.js';

const [url, prefix] = process.argv.slice(2);
const out = (line: string): void => void process.stdout.write(`${line}\n`);

// Publishes the broker refused (each attempt), counted from the server's log.
let publishFailures = 0;
const log = pino({ level: process.env.LIFELINE_NODE_LOG ?? 'silent' }, pino.destination(2));
const logger: LifelineLogger = {
  debug: (fields, message) => log.debug(fields, message),
  info: (fields, message) => log.info(fields, message),
  warn: (fields, message) => log.warn(fields, message),
  error: (fields, message) => {
    if (message === 'broker publish failed') publishFailures++;
    log.error(fields, message);
  },
};

let held: string | undefined;
let waiting: (() => void)[] = [];

const broker = await RedisBroker.connect({ url, prefix, reconnect: { initialDelay: 50, maxDelay: 300 } });
const server = createServer({
  port: 0,
  broker,
  channels: { chat: { history: { size: 100_000, ttl: 600_000 }, presence: false } },
  recoveryWindow: 30_000,
  pingInterval: 1_000,
  logger,
  canSubscribe: async ({ channel }) => {
    if (held === undefined || channel !== held) return true;
    out(`held ${channel}`);
    await new Promise<void>((resolve) => waiting.push(resolve));
    return true;
  },
});
const info = await server.listen();
out(`listening ws://127.0.0.1:${info.port}/ws`);

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const [command, channel, ...rest] = line.split(' ');
  if (command === 'status') {
    out(`status ready=${server.ready} sessions=${server.realtime.sessions} publish-failures=${publishFailures}`);
  } else if (command === 'publish' && channel !== undefined) {
    server.publish(channel, JSON.parse(rest.join(' ')) as unknown).then(
      (position) => out(`published ${channel} ${position.epoch} ${position.offset}`),
      (error: unknown) => out(`publish-failed ${(error as { code?: string }).code ?? 'unknown'}`),
    );
  } else if (command === 'history' && channel !== undefined) {
    server.history(channel, { since: { epoch: rest[0] ?? '', offset: 0 }, limit: 10_000 }).then(
      (page) => out(`history ${JSON.stringify(page)}`),
      (error: unknown) => out(`history-failed ${(error as { code?: string }).code ?? 'unknown'}`),
    );
  } else if (command === 'hold' && channel !== undefined) {
    held = channel;
    out('holding');
  } else if (command === 'release') {
    const released = waiting;
    held = undefined;
    waiting = [];
    for (const resume of released) resume();
    out(`released ${released.length}`);
  } else if (command === 'drop') {
    const connections = [...server.connections];
    for (const connection of connections) connection.terminate();
    out(`dropped ${connections.length}`);
  }
});

async function stop(): Promise<void> {
  for (const resume of waiting.splice(0)) resume();
  await server.close({ drainTimeout: 1_000 });
  await broker.close();
  process.exit(0);
}
process.once('SIGTERM', () => void stop());
lines.once('close', () => void stop());
