/**
 * One Lifeline node of a test deployment (not a test file): a server on an ephemeral port over
 * a RedisBroker, driven through stdin by the cluster tests.
 *
 *   node --import tsx test/cluster/node.ts REDIS_URL PREFIX
 *
 * Prints `listening ws://127.0.0.1:PORT/ws`. Commands on stdin, one per line:
 *   publish CHANNEL JSON   -> `published CHANNEL EPOCH OFFSET` or `publish-failed CODE`
 *   status                 -> `status ready=true|false sessions=N`
 */
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { RedisBroker } from '../../src/redis/index.js';
import { createServer } from '../../src/server/index.js';

const [url, prefix] = process.argv.slice(2);
const broker = await RedisBroker.connect({ url, prefix, reconnect: { initialDelay: 50, maxDelay: 300 } });
const server = createServer({
  port: 0,
  broker,
  channels: { chat: { history: { size: 100_000, ttl: 600_000 }, presence: false } },
  recoveryWindow: 30_000,
  pingInterval: 1_000,
  logger: pino({ level: process.env.LIFELINE_NODE_LOG ?? 'silent' }, pino.destination(2)),
});
const info = await server.listen();
process.stdout.write(`listening ws://127.0.0.1:${info.port}/ws\n`);

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const [command, channel, ...rest] = line.split(' ');
  if (command === 'status') {
    process.stdout.write(`status ready=${server.ready} sessions=${server.realtime.sessions}\n`);
  } else if (command === 'publish' && channel !== undefined) {
    server.publish(channel, JSON.parse(rest.join(' ')) as unknown).then(
      (position) => process.stdout.write(`published ${channel} ${position.epoch} ${position.offset}\n`),
      (error: unknown) => process.stdout.write(`publish-failed ${(error as { code?: string }).code ?? 'unknown'}\n`),
    );
  }
});

async function stop(): Promise<void> {
  await server.close({ drainTimeout: 1_000 });
  await broker.close();
  process.exit(0);
}
process.once('SIGTERM', () => void stop());
lines.once('close', () => void stop());
