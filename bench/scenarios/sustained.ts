// Sustained fan-out at scale: N subscribers of one channel (heartbeats at each stack's
// defaults; raw ws with the ping loop its users add), a publisher inside the server process at a
// fixed rate for a step's seconds, the rate stepped up until p99 publish-to-delivery latency
// reaches the bound (or an event is lost, repeated or reordered). Each event carries the time it
// was due, so a stalled event loop that publishes late counts in the latency. Reported for the
// highest rate that held: deliveries/s, latency, server CPU per delivery and the longest
// event-loop stall; every step's figures are in the results file.
import { histogramPercentile, type DeliveryReport } from '../children/delivery-log.js';
import type { Sizes } from '../options.js';
import { max, sum } from '../stats.js';
import { subscribe } from './fanout-run.js';
import { cpuOf, delay, split, type Metrics, type RunContext, type Scenario } from './scenario.js';

interface Published {
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly startedAt: number;
  readonly endedAt: number;
  /** Publishes that went out more than 10 ms after they were due. */
  readonly late: number;
}

export interface StepResult {
  readonly rate: number;
  /** Events the publisher got out per second (below `rate` when the server could not keep up). */
  readonly publishedPerSec: number;
  readonly deliveriesPerSec: number;
  readonly expected: number;
  readonly received: number;
  readonly outOfOrder: number;
  readonly closed: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly serverCpuUsPerDelivery: number;
  readonly serverCpuPct: number;
  readonly clientCpuPct: number;
  readonly maxStallMs: number;
  /** The longest garbage-collection pause of the step (what a stall may be made of), ms. */
  readonly maxGcMs: number;
  readonly latePublishes: number;
  readonly held: boolean;
}

/** Client processes: about 5,000 subscribers each, at least two. */
function clientProcesses(connections: number): number {
  return Math.max(2, Math.ceil(connections / 5000));
}

export function sustainedScenario(sizes: Sizes): Scenario {
  const plan = sizes.sustained;
  const n = plan.connections;
  const stepBoundMs = plan.seconds * 1000 + plan.drainMs + 30_000;
  return {
    key: `sustained-${n}`,
    title: `Sustained fan-out to ${n.toLocaleString('en-US')} subscribers: highest rate with p99 < ${plan.p99LimitMs} ms (${plan.seconds} s steps)`,
    stacks: ['lifeline', 'ws', 'socketio'],
    rounds: plan.rounds,
    params: { ...plan, publisher: 'in the server process, at a fixed rate, each event stamped with the time it was due' },
    metrics: {
      maxRate: { label: 'highest rate held', unit: 'events/s', better: 'higher' },
      deliveriesPerSec: { label: 'deliveries at that rate', unit: '/s', better: 'higher' },
      p50Ms: { label: 'publish to delivery, p50', unit: 'ms', better: 'lower' },
      p99Ms: { label: 'publish to delivery, p99', unit: 'ms', better: 'lower' },
      serverCpuUsPerDelivery: { label: 'server CPU per delivery', unit: 'µs', better: 'lower' },
      maxStallMs: { label: 'longest event-loop stall', unit: 'ms', better: 'lower' },
      maxGcMs: { label: 'longest GC pause', unit: 'ms', better: 'lower', zeroOk: true },
      serverCpuPct: { label: 'server CPU', unit: '%', better: 'lower' },
    },
    timeoutMs: 120_000 + n * 20 + plan.rates.length * stepBoundMs,
    async run(context: RunContext, stack: string): Promise<Metrics> {
      const node = await context.server(stack, { port: 0, heartbeat: true });
      const clients = await context.clients(clientProcesses(n));
      await subscribe({ stack, nodes: [node] }, clients, split(n, clients.length));
      await context.waitQuiet();
      const steps: StepResult[] = [];
      for (const rate of plan.rates) {
        let step: StepResult;
        try {
          step = await runStep(context, node.child, clients, rate);
        } catch (error) {
          // A server far behind may not answer in time: the steps before stand.
          console.log(`  [sustained-${n}] ${stack} ${rate} events/s: failed (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`);
          if (steps.length === 0) throw error;
          break;
        }
        steps.push(step);
        console.log(
          `  [sustained-${n}] ${stack} ${rate} events/s: ${Math.round(step.deliveriesPerSec)} deliveries/s, p50 ${step.p50Ms.toFixed(1)} ms, p99 ${step.p99Ms.toFixed(1)} ms, ` +
            `max ${step.maxMs.toFixed(0)} ms, stall ${step.maxStallMs.toFixed(0)} ms (GC ${step.maxGcMs.toFixed(0)} ms), ${step.serverCpuUsPerDelivery.toFixed(2)} µs CPU/delivery, server ${step.serverCpuPct.toFixed(0)} % CPU` +
            `${step.publishedPerSec < rate * 0.99 ? `, published ${step.publishedPerSec.toFixed(1)} events/s` : ''}${step.received === step.expected && step.outOfOrder === 0 ? '' : `, ${step.received}/${step.expected} received, ${step.outOfOrder} out of order`}${step.closed > 0 ? `, ${step.closed} closed` : ''}` +
            `${step.held ? '' : ' -> not held'}`,
        );
        // Past saturation (the publisher fell behind or deliveries did not drain) nothing more is learned.
        const saturated = step.publishedPerSec < rate * 0.99 || step.received < step.expected;
        if (!step.held && (!plan.keepGoing || saturated)) break;
      }
      return metricsOf(steps);
    },
  };

  async function runStep(context: RunContext, server: Awaited<ReturnType<RunContext['server']>>['child'], clients: Awaited<ReturnType<RunContext['clients']>>, rate: number): Promise<StepResult> {
    const children = clients.map((c) => c.child);
    const { lastSeq: before } = await server.call<{ lastSeq: number }>('lastSeq');
    await Promise.all(children.map((child) => child.call('steadyStart', { fromSeq: before + 1 })));
    await server.call('loopReset');
    const serverBefore = await cpuOf([server]);
    const clientBefore = await cpuOf(children);
    const published = await server.call<Published>('publishSteady', { rate, seconds: plan.seconds, bodySize: plan.bodySize }, plan.seconds * 1000 + 60_000);
    const events = published.lastSeq - published.firstSeq + 1;
    const expected = events * n;
    // The deliveries still on their way: bounded, as a stack that fell behind may never catch up.
    const drainUntil = performance.now() + plan.drainMs;
    while (performance.now() < drainUntil) {
      const progress = await Promise.all(children.map((child) => child.call<{ received: number }>('steadyProgress')));
      if (sum(progress.map((p) => p.received)) >= expected) break;
      await delay(50);
    }
    const loop = await server.call<{ maxMs: number; gcMaxMs: number; gcKind: string }>('loopReport');
    const serverCpuMs = (await cpuOf([server])) - serverBefore;
    const clientCpuMs = (await cpuOf(children)) - clientBefore;
    const reports = await Promise.all(children.map((child) => child.call<DeliveryReport & { closed: number }>('steadyReport')));
    const received = sum(reports.map((r) => r.received));
    const buckets = reports.flatMap((r) => r.buckets);
    const lastAt = max(reports.map((r) => r.lastAt));
    const wallMs = Math.max(1, lastAt - published.startedAt);
    const p99Ms = histogramPercentile(buckets, 99);
    const outOfOrder = sum(reports.map((r) => r.outOfOrder));
    const closed = sum(reports.map((r) => r.closed));
    const asked = Math.max(1, Math.round(rate * plan.seconds));
    return {
      rate,
      publishedPerSec: events / plan.seconds,
      deliveriesPerSec: received / (wallMs / 1000),
      expected,
      received,
      outOfOrder,
      closed,
      p50Ms: histogramPercentile(buckets, 50),
      p99Ms,
      maxMs: histogramPercentile(buckets, 100),
      serverCpuUsPerDelivery: received > 0 ? (serverCpuMs * 1000) / received : NaN,
      serverCpuPct: (100 * serverCpuMs) / wallMs,
      clientCpuPct: (100 * clientCpuMs) / wallMs,
      maxStallMs: loop.maxMs,
      maxGcMs: loop.gcMaxMs,
      latePublishes: published.late,
      held: events >= asked && received === expected && outOfOrder === 0 && closed === 0 && p99Ms < plan.p99LimitMs,
    };
  }
}

/**
 * The highest step that held, with every step below it holding too, gives the figures; every
 * step's own are kept as well (`step<rate>.<metric>`).
 */
function metricsOf(steps: readonly StepResult[]): Metrics {
  const firstMiss = steps.findIndex((s) => !s.held);
  const best = (firstMiss === -1 ? steps : steps.slice(0, firstMiss)).at(-1);
  const metrics: Metrics = {
    maxRate: best?.rate ?? 0,
    deliveriesPerSec: best?.deliveriesPerSec ?? NaN,
    p50Ms: best?.p50Ms ?? NaN,
    p99Ms: best?.p99Ms ?? NaN,
    serverCpuUsPerDelivery: best?.serverCpuUsPerDelivery ?? NaN,
    maxStallMs: best?.maxStallMs ?? NaN,
    maxGcMs: best?.maxGcMs ?? NaN,
    serverCpuPct: best?.serverCpuPct ?? NaN,
  };
  for (const step of steps) {
    for (const [key, value] of Object.entries(step)) {
      if (key !== 'rate') metrics[`step${step.rate}.${key}`] = typeof value === 'boolean' ? Number(value) : value;
    }
  }
  return metrics;
}
