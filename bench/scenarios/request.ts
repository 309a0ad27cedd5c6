// Requests: what a client waits for an answer to. Lifeline's `lifeline.v1` `request` (the
// server's handler echoes its params) and `publish` answered by `ack`, each with the exactly-once
// bookkeeping they carry, against a raw ws JSON echo and Socket.IO's acknowledged event. Per
// stack: one client's round trip (p50, p99, max), then 100 clients with 10 requests each always
// in flight (replies per second, and the round trip of every reply under that load). ws and
// Socket.IO have no publish: their "publish" rows measure their echo a second time, so
// Lifeline's publish is held to the same baseline as its request. The two measures swap order
// every round, the same for every stack.
import type { Sizes } from '../options.js';
import type { Child } from '../process/child.js';
import type { RequestKind } from '../children/request-client.js';
import { canPin } from '../process/pinning.js';
import { checked, cpuOf, type Metrics, type MetricInfo, type RunContext, type Scenario } from './scenario.js';

interface Measure {
  readonly prefix: string;
  readonly label: string;
}

const MEASURES: readonly Measure[] = [
  { prefix: 'req', label: 'request' },
  { prefix: 'pub', label: 'publish+ack' },
];

function metricsOf(clients: number, inflight: number): Record<string, MetricInfo> {
  return Object.fromEntries(
    MEASURES.flatMap(({ prefix, label }) => [
      [`${prefix}P50Us`, { label: `${label} round trip p50`, unit: 'µs', better: 'lower' }],
      [`${prefix}P99Us`, { label: `${label} round trip p99`, unit: 'µs', better: 'lower' }],
      [`${prefix}Throughput`, { label: `${label} ${clients}x${inflight}`, unit: 'msg/s', better: 'higher' }],
      [`${prefix}LoadP50Us`, { label: `${label} ${clients}x${inflight} round trip p50`, unit: 'µs', better: 'lower' }],
      [`${prefix}LoadMaxUs`, { label: `${label} ${clients}x${inflight} round trip max`, unit: 'µs', better: 'lower' }],
      [`${prefix}ServerCpuShare`, { label: `${label}: server CPU during ${clients}x${inflight}`, unit: '%', better: 'lower' }],
      [`${prefix}ServerCpuUsPerReply`, { label: `${label}: server CPU per reply`, unit: 'µs', better: 'lower' }],
    ]),
  );
}

/** What each stack's client sends for each measure. */
function kindOf(stack: string, prefix: string): RequestKind {
  if (stack === 'lifeline') return prefix === 'pub' ? 'publish' : 'request';
  if (stack === 'ws' || stack === 'socketio') return stack;
  throw new Error(`unknown stack "${stack}"`);
}

export function requestScenario(sizes: Sizes): Scenario {
  const echo = sizes.echo;
  /** Rounds each stack has run: the order of the two measures alternates by round (see run). */
  const rounds = new Map<string, number>();
  // The server on one CPU and the client on another, where the machine lets it: unpinned, the
  // one-client round trip is bimodal (both on one core read about twice as long).
  const pin = canPin();
  return {
    key: 'request',
    title: 'Requests (lifeline.v1 request and publish+ack; ws echo; Socket.IO ack)',
    stacks: ['lifeline', 'ws', 'socketio'],
    params: { ...echo, pinned: pin ? 'server on CPU 0, client on CPU 1 (taskset)' : 'no (taskset or a second CPU missing)' },
    metrics: metricsOf(echo.clients, echo.inflight),
    timeoutMs: 60_000 + (echo.samples + echo.warmup) * 4 + echo.durationMs * 4,
    async run(context: RunContext, stack: string) {
      const { child: server, port } = await context.server(stack, { port: 0 }, pin ? { cpu: 0 } : {});
      const [client] = await context.clients(1, pin ? 1 : undefined);
      if (!client) throw new Error('no client');
      const metrics: Metrics = {};
      // The second one-client measure of a run reads faster than the first (the server warmer
      // after the loaded one): every stack runs them in the same order in a round, and the order
      // alternates from round to round, so neither measure has the better place throughout.
      const round = rounds.get(stack) ?? 0;
      rounds.set(stack, round + 1);
      for (const { prefix } of round % 2 === 0 ? MEASURES : [...MEASURES].reverse()) {
        const args = { kind: kindOf(stack, prefix), port, bodySize: echo.bodySize, localAddress: client.localAddress };
        await context.waitQuiet();
        const latency = await client.child.call<{ p50: number; p99: number }>('requestLatency', { ...args, warmup: echo.warmup, samples: echo.samples }, 120_000);
        await context.waitQuiet();
        const load = await loaded(server, client.child, { ...args, clients: echo.clients, inflight: echo.inflight, warmupMs: echo.warmupMs, durationMs: echo.durationMs });
        metrics[`${prefix}P50Us`] = checked(`${prefix} p50`, latency.p50);
        metrics[`${prefix}P99Us`] = checked(`${prefix} p99`, latency.p99);
        metrics[`${prefix}Throughput`] = checked(`${prefix} throughput`, load.rate);
        metrics[`${prefix}LoadP50Us`] = load.p50;
        metrics[`${prefix}LoadMaxUs`] = load.max;
        metrics[`${prefix}ServerCpuShare`] = load.cpuShare;
        metrics[`${prefix}ServerCpuUsPerReply`] = load.cpuUsPerReply;
      }
      return metrics;
    },
  };
}

/**
 * The loaded run, with the server's CPU share over it and its CPU time per reply (every reply of
 * the call, warm-up included, against the CPU of the whole call): on a machine shared with
 * other work, CPU per reply moves less than replies per second.
 */
async function loaded(server: Child, client: Child, args: Record<string, unknown>): Promise<{ rate: number; p50: number; max: number; cpuShare: number; cpuUsPerReply: number }> {
  const before = await cpuOf([server]);
  const startedAt = Date.now();
  const result = await client.call<{ rate: number; total: number; p50: number; max: number }>('requestThroughput', args, 120_000);
  const cpuMs = (await cpuOf([server])) - before;
  return { ...result, cpuShare: (100 * cpuMs) / (Date.now() - startedAt), cpuUsPerReply: (1000 * cpuMs) / result.total };
}
