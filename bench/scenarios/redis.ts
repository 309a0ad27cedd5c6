// Scaling out: Lifeline's fan-out with its in-memory broker on one node, with the Redis broker on
// one node, and with two nodes sharing Redis (subscribers split over both, the publisher on the
// first). Before the fan-out, single-event probes to one subscriber give the broker's added
// latency (on two nodes the subscriber sits on the second node: the event crosses Redis).
// Runs only when src/redis/ exports a RedisBroker and a Redis server answers.
import { randomUUID } from 'node:crypto';
import { createConnection } from 'node:net';
import type { Bundle } from '../build.js';
import type { BenchOptions } from '../options.js';
import { median } from '../stats.js';
import { FANOUT_CHANNEL } from '../children/servers/bench-server.js';
import { measureFanout, subscribe, type FanoutPlan, type Node } from './fanout-run.js';
import { checked, delay, type RunContext, type Scenario } from './scenario.js';

/** True when something at `url` answers PING with PONG within a second. */
export function redisAnswers(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = createConnection({ host: hostname, port: Number(port || 6379) });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(String(data).startsWith('+PONG')));
  });
}

/** Deletes what a run left in Redis under `prefix`. */
async function dropKeys(url: string, prefix: string): Promise<void> {
  const { createClient } = await import('@redis/client');
  const client = createClient({ url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) if (keys.length > 0) await client.del(keys);
  } finally {
    client.destroy();
  }
}

export async function redisScenario(options: BenchOptions, bundle: Bundle): Promise<Scenario> {
  const { subscribers, deliveries, probes } = options.sizes.redis;
  const url = options.redisUrl;
  const redis = bundle.redis;
  const unavailable = 'unavailable' in redis ? redis.unavailable : (await redisAnswers(url)) ? undefined : `no Redis answers at ${url}`;
  const prefixes: string[] = [];
  return {
    key: 'redis',
    title: `Scaling out over Redis, fan-out to ${subscribers.toLocaleString('en-US')}`,
    stacks: ['memory', 'redis-1node', 'redis-2nodes'],
    params: { subscribers, deliveries, probes, url, publisher: `server.publish on the first node (${options.publish})` },
    ...(unavailable === undefined ? {} : { unavailable }),
    metrics: {
      deliveriesPerSec: { label: 'deliveries', unit: '/s', better: 'higher' },
      brokerLatencyMs: { label: 'publish to delivery, 1 subscriber, p50', unit: 'ms', better: 'lower' },
      latencyMs: { label: `publish to last delivery (${subscribers}), p50`, unit: 'ms', better: 'lower' },
      serverCpuUsPerDelivery: { label: 'server CPU per delivery (all nodes)', unit: 'µs', better: 'lower' },
    },
    timeoutMs: 180_000 + deliveries / 5,
    async run(context: RunContext, variant: string) {
      const prefix = `lifeline-bench:${randomUUID().slice(0, 8)}:`;
      prefixes.push(prefix);
      const config = 'module' in redis && variant !== 'memory' ? { redis: { module: redis.module, url, prefix } } : {};
      const nodeCount = variant === 'redis-2nodes' ? 2 : 1;
      const nodes: Node[] = [];
      for (let i = 0; i < nodeCount; i++) nodes.push(await context.server('lifeline', { port: 0, ...config }));
      const plan: FanoutPlan = { stack: 'lifeline', nodes, subscribers, deliveries, probes: 5, bodySize: 100, clientProcesses: 2, mode: options.publish };

      // The broker's own latency: one subscriber, on the last node.
      const [probe] = await context.clients(1);
      if (!probe) throw new Error('no client');
      await subscribe({ ...plan, nodes: [nodes[nodes.length - 1] as Node] }, [probe], [1], FANOUT_CHANNEL);
      await context.waitQuiet();
      const latencies: number[] = [];
      for (let i = 0; i < probes; i++) {
        await probe.child.call('arm', { messages: 1 });
        const finished = probe.child.call<{ lastAt: number }>('done', { timeoutMs: 10_000 }, 15_000);
        const { at } = await (nodes[0] as Node).child.call<{ at: number }>('publishOne', { seq: i + 1, bodySize: 100 });
        latencies.push((await finished).lastAt - at);
        await delay(5);
      }
      await probe.child.call('closeAll');

      const result = await measureFanout(context, plan);
      return {
        deliveriesPerSec: result.deliveriesPerSec,
        brokerLatencyMs: checked('broker latency', median(latencies)),
        latencyMs: result.latencyMs,
        serverCpuUsPerDelivery: result.serverCpuUsPerDelivery,
      };
    },
    async finish() {
      for (const prefix of prefixes.splice(0)) await dropKeys(url, prefix).catch(() => undefined);
    },
  };
}
