// Scaling out: Lifeline's fan-out with its in-memory broker on one node, with the Redis broker on
// one node, and with two and three nodes sharing Redis (subscribers split over the nodes, the
// publisher on the first). Redis's own CPU comes from its `INFO cpu`, read around the burst. Before the fan-out, single-event probes to one subscriber give the broker's added
// latency (on two nodes the subscriber sits on the second node: the event crosses Redis).
// Runs only when src/redis/ exports a RedisBroker and a Redis server answers.
import { randomUUID } from 'node:crypto';
import { createConnection } from 'node:net';
import type { Bundle } from '../build.js';
import type { BenchOptions } from '../options.js';
import { median, percentile, sum } from '../stats.js';
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

/** Redis's CPU time so far (user + system, all its threads), ms, from `INFO cpu`; `memory()`: its `used_memory`, bytes. */
export async function redisCpuReader(url: string): Promise<{ read(): Promise<number>; memory(): Promise<number>; close(): void }> {
  const { createClient } = await import('@redis/client');
  const client = createClient({ url });
  client.on('error', () => undefined);
  await client.connect();
  return {
    async read() {
      const info = await client.info('cpu');
      const field = (name: string): number => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN);
      return (field('used_cpu_user') + field('used_cpu_sys')) * 1000;
    },
    async memory() {
      return Number(/^used_memory:(\d+)/m.exec(await client.info('memory'))?.[1] ?? NaN);
    },
    close: () => client.destroy(),
  };
}

const REDIS_VARIANTS = ['redis-1node', 'redis-2nodes', 'redis-3nodes'];

/** Server nodes of a variant: `memory` and `redis-1node` 1, `redis-2nodes` 2... */
function nodesOf(variant: string): number {
  return Number(/(\d+)node/.exec(variant)?.[1] ?? 1);
}

/** Deletes what a run left in Redis under `prefix`. */
export async function dropKeys(url: string, prefix: string): Promise<void> {
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
    stacks: ['memory', ...REDIS_VARIANTS],
    params: { subscribers, deliveries, probes, url, publisher: `server.publish on the first node (${options.publish})` },
    ...(unavailable === undefined ? {} : { unavailable }),
    metrics: {
      deliveriesPerSec: { label: 'deliveries', unit: '/s', better: 'higher' },
      brokerLatencyMs: { label: 'publish to delivery, 1 subscriber, p50', unit: 'ms', better: 'lower' },
      brokerLatencyP99Ms: { label: 'publish to delivery, 1 subscriber, p99', unit: 'ms', better: 'lower' },
      latencyMs: { label: `publish to last delivery (${subscribers}), p50`, unit: 'ms', better: 'lower' },
      serverCpuUsPerDelivery: { label: 'server CPU per delivery (all nodes)', unit: 'µs', better: 'lower' },
      publisherNodeCpuUs: { label: 'publishing node CPU per delivery it made', unit: 'µs', better: 'lower' },
      otherNodeCpuUs: { label: 'other nodes CPU per delivery they made (mean)', unit: 'µs', better: 'lower', only: ['redis-2nodes', 'redis-3nodes'] },
      redisCpuUsPerEvent: { label: 'Redis CPU per event published', unit: 'µs', better: 'lower', only: REDIS_VARIANTS },
      redisCpuUsPerDelivery: { label: 'Redis CPU per delivery', unit: 'µs', better: 'lower', only: REDIS_VARIANTS },
    },
    timeoutMs: 180_000 + deliveries / 5,
    async run(context: RunContext, variant: string) {
      const prefix = `lifeline-bench:${randomUUID().slice(0, 8)}:`;
      prefixes.push(prefix);
      const config = 'module' in redis && variant !== 'memory' ? { redis: { module: redis.module, url, prefix } } : {};
      const nodeCount = nodesOf(variant);
      const nodes: Node[] = [];
      for (let i = 0; i < nodeCount; i++) nodes.push(await context.server('lifeline', { port: 0, ...config }));
      const redisCpu = variant === 'memory' ? undefined : await redisCpuReader(url);
      // One client process per node at least, so every node gets its share of subscribers.
      const plan: FanoutPlan = {
        stack: 'lifeline',
        nodes,
        subscribers,
        deliveries,
        probes: 5,
        bodySize: 100,
        clientProcesses: Math.max(2, nodeCount),
        mode: options.publish,
        ...(redisCpu ? { externalCpuMs: () => redisCpu.read() } : {}),
      };

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

      const result = await measureFanout(context, plan).finally(() => redisCpu?.close());
      const [publisherCpu, ...others] = result.nodeCpuUsPerDelivery;
      return {
        deliveriesPerSec: result.deliveriesPerSec,
        brokerLatencyMs: checked('broker latency', median(latencies)),
        brokerLatencyP99Ms: percentile(latencies, 99),
        latencyMs: result.latencyMs,
        serverCpuUsPerDelivery: result.serverCpuUsPerDelivery,
        publisherNodeCpuUs: checked('publishing node CPU', publisherCpu ?? NaN),
        ...(others.length > 0 ? { otherNodeCpuUs: sum(others) / others.length } : {}),
        ...(redisCpu ? { redisCpuUsPerEvent: (result.externalCpuMs * 1000) / result.events, redisCpuUsPerDelivery: (result.externalCpuMs * 1000) / (result.events * subscribers) } : {}),
      };
    },
    async finish() {
      for (const prefix of prefixes.splice(0)) await dropKeys(url, prefix).catch(() => undefined);
    },
  };
}
