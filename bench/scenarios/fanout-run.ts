// The fan-out measurement itself, shared by the fan-out and Redis scenarios: subscribers join the
// channel (spread over client processes, and over server nodes when there are several), the
// publisher (inside a server process) publishes its events (all in one go, or one per event-loop
// turn), and the clients report when each subscriber has every event. Then single-event probes time publish-to-last-
// delivery. Times come from CLOCK_MONOTONIC, which all processes share.
import type { Child } from '../process/child.js';
import { max, median, sum } from '../stats.js';
import { FANOUT_CHANNEL } from '../children/servers/bench-server.js';
import { checked, cpuOf, delay, split, type RunContext, type Usage } from './scenario.js';

export interface Node {
  readonly child: Child;
  readonly port: number;
}

export interface FanoutPlan {
  readonly stack: string;
  /** The publisher is the first node. */
  readonly nodes: readonly Node[];
  readonly subscribers: number;
  /** Total deliveries aimed at (events = deliveries / subscribers). */
  readonly deliveries: number;
  readonly probes: number;
  readonly bodySize: number;
  /** Client processes; subscribers of process i go to node i mod nodes. */
  readonly clientProcesses: number;
  readonly mode: 'burst' | 'paced';
  /** Another process's CPU milliseconds so far (Redis), read before and after the burst. */
  readonly externalCpuMs?: () => Promise<number>;
}

export interface FanoutResult {
  readonly deliveriesPerSec: number;
  readonly latencyMs: number;
  readonly latencyMaxMs: number;
  readonly serverCpuUsPerDelivery: number;
  readonly peakRssMB: number;
  readonly serverCpuMs: number;
  /** Per node: its CPU during the burst per delivery to its own subscribers, µs. */
  readonly nodeCpuUsPerDelivery: readonly number[];
  /** CPU of `externalCpuMs` during the burst (NaN without it). */
  readonly externalCpuMs: number;
  readonly clientCpuMs: number;
  readonly events: number;
}

type Clients = readonly { readonly child: Child; readonly localAddress: string }[];

/** Connects `counts[i]` subscribers from client process i to its node; all must join. */
export async function subscribe(plan: Pick<FanoutPlan, 'stack' | 'nodes'>, clients: Clients, counts: readonly number[], channel = FANOUT_CHANNEL): Promise<void> {
  const results = await Promise.all(
    clients.map(({ child, localAddress }, i) => {
      const node = plan.nodes[i % plan.nodes.length] as Node;
      const count = counts[i] ?? 0;
      return child.call<{ connected: number; failed: number; errors: string[] }>(
        'connect',
        { stack: plan.stack, port: node.port, count, concurrency: 50, join: channel, timeoutMs: 15_000, localAddress },
        60_000 + count * 20,
      );
    }),
  );
  const failed = results.reduce((n, r) => n + r.failed, 0);
  if (failed > 0) throw new Error(`${failed} subscribers failed to join: ${results.flatMap((r) => r.errors).join('; ')}`);
}

/** Each client process gets `messages` more events per subscriber; resolves with the last delivery time. */
async function expect(clients: Clients, messages: number, send: () => Promise<number>, timeoutMs: number): Promise<{ sentAt: number; lastAt: number }> {
  await Promise.all(clients.map(({ child }) => child.call('arm', { messages })));
  const done = Promise.all(clients.map(({ child }) => child.call<{ lastAt: number }>('done', { timeoutMs }, timeoutMs + 5000)));
  const sentAt = await send();
  return { sentAt, lastAt: max((await done).map((d) => d.lastAt)) };
}

export async function measureFanout(context: RunContext, plan: FanoutPlan): Promise<FanoutResult> {
  const clients = await context.clients(plan.clientProcesses);
  const counts = split(plan.subscribers, clients.length);
  await subscribe(plan, clients, counts);
  const [publisher] = plan.nodes;
  if (!publisher) throw new Error('no server node');
  const servers = plan.nodes.map((n) => n.child);
  const clientChildren = clients.map((c) => c.child);
  const events = Math.max(1, Math.round(plan.deliveries / plan.subscribers));
  const deliveries = events * plan.subscribers;
  const timeoutMs = 30_000 + deliveries / 5;

  await context.waitQuiet();
  const nodeBefore = await Promise.all(servers.map((s) => cpuOf([s])));
  const externalBefore = plan.externalCpuMs ? await plan.externalCpuMs() : NaN;
  const clientBefore = await cpuOf(clientChildren);
  const run = await expect(
    clients,
    events,
    async () => (await publisher.child.call<{ startedAt: number }>('publishBurst', { messages: events, bodySize: plan.bodySize, mode: plan.mode }, timeoutMs)).startedAt,
    timeoutMs,
  );
  const externalCpuMs = plan.externalCpuMs ? (await plan.externalCpuMs()) - externalBefore : NaN;
  const nodeCpuMs = (await Promise.all(servers.map((s) => cpuOf([s])))).map((cpu, i) => cpu - (nodeBefore[i] ?? 0));
  const serverCpuMs = sum(nodeCpuMs);
  const clientCpuMs = (await cpuOf(clientChildren)) - clientBefore;
  // Subscribers of client process i sit on node i mod nodes.
  const nodeSubscribers = servers.map((_, node) => sum(counts.filter((_, i) => i % servers.length === node)));

  const latencies: number[] = [];
  for (let probe = 0; probe < plan.probes; probe++) {
    await delay(20);
    const sent = await expect(
      clients,
      1,
      async () => (await publisher.child.call<{ at: number }>('publishOne', { seq: events + probe + 1, bodySize: plan.bodySize })).at,
      20_000,
    );
    latencies.push(sent.lastAt - sent.sentAt);
  }
  const usages = await Promise.all(servers.map((s) => s.call<Usage>('usage')));
  return {
    deliveriesPerSec: checked('deliveries per second', deliveries / ((run.lastAt - run.sentAt) / 1000)),
    latencyMs: checked('publish-to-last-delivery latency', median(latencies)),
    latencyMaxMs: max(latencies),
    serverCpuUsPerDelivery: checked('server CPU per delivery', (serverCpuMs * 1000) / deliveries),
    peakRssMB: checked('server peak RSS', max(usages.map((u) => u.peakRss ?? 0)) / 2 ** 20),
    serverCpuMs,
    nodeCpuUsPerDelivery: nodeCpuMs.map((cpu, i) => (cpu * 1000) / (events * (nodeSubscribers[i] ?? 0))),
    externalCpuMs,
    clientCpuMs,
    events,
  };
}
