// Reconnect storm: N connected clients (real reconnecting clients, over two processes), then the
// server process goes away and a new one starts on the same port. Measured from the moment the
// server is told to go: time until every client is back, resubscribed and caught up, and the
// new server's peak accept rate (accepts per 100 ms bucket, x10).
//
// Lifeline runs twice: `lifeline-hint` closes gracefully (1012 with the retry hint that spreads
// the crowd, as `lifeline serve` does on SIGTERM), `lifeline-crash` is killed (SIGKILL), so the
// clients fall back on their backoff. The restarted Lifeline server republishes the channel's
// history under the same epoch plus 5 new events (standing in for a persistent broker), so a
// returning client must replay what it missed. ws (hand-written backoff) and Socket.IO
// (socket.io-client's reconnection) are killed too; "caught up" for them is the answer to their
// resubscribe.
import type { Sizes } from '../options.js';
import { max, percentile } from '../stats.js';
import { cpuOf, split, type RunContext, type Scenario } from './scenario.js';

const BEFORE = 10;
const MISSED = 5;
const BUCKET_MS = 100;

interface Done {
  readonly total: number;
  readonly back: number;
  readonly times: number[];
}

export function stormScenario(sizes: Sizes): Scenario {
  const { clients, retryAfter, retrySpread } = sizes.storm;
  const hint = { ...(retryAfter === undefined ? {} : { retryAfter }), ...(retrySpread === undefined ? {} : { retrySpread }) };
  const backTimeoutMs = 30_000 + clients * 4;
  return {
    key: 'storm',
    title: `Reconnect storm, ${clients.toLocaleString('en-US')} clients`,
    stacks: ['lifeline-hint', 'lifeline-crash', 'ws', 'socketio'],
    params: { clients, clientProcesses: 2, missedEvents: MISSED, bucketMs: BUCKET_MS, hint: Object.keys(hint).length > 0 ? hint : 'server defaults (retry after 1000 ms, spread 2 ms per connection)' },
    metrics: {
      allBackMs: { label: 'until all back and caught up', unit: 'ms', better: 'lower' },
      p50BackMs: { label: 'until half back', unit: 'ms', better: 'lower' },
      peakAcceptPerSec: { label: 'peak accept rate (100 ms buckets)', unit: '/s', better: 'lower' },
      caughtUpPct: { label: 'clients caught up', unit: '%', better: 'higher' },
      accepts: { label: 'accepts after restart', unit: '', better: 'lower' },
      goneMs: { label: 'old server gone after (drain included)', unit: 'ms', better: 'lower' },
      restartMs: { label: 'new server listening after', unit: 'ms', better: 'lower' },
      serverCpuMs: { label: 'new server CPU until all back', unit: 'ms', better: 'lower' },
      clientCpuMs: { label: 'client CPU, storm', unit: 'ms', better: 'lower' },
    },
    timeoutMs: 90_000 + clients * 30 + backTimeoutMs,
    async run(context: RunContext, variant: string) {
      const stack = variant.startsWith('lifeline') ? 'lifeline' : variant;
      const listen = { port: 0, prepublish: BEFORE, ...(stack === 'lifeline' ? { epoch: 'storm' } : {}) };
      const first = await context.server(stack, listen);
      const processes = await context.stormClients(2);
      const counts = split(clients, processes.length);
      await Promise.all(
        processes.map(({ child, localAddress }, i) =>
          child.call('start', { variant: stack, port: first.port, count: counts[i] ?? 0, head: BEFORE, batch: 250, localAddress, timeoutMs: 60_000 }, 120_000 + clients * 20),
        ),
      );
      await context.waitQuiet();
      await Promise.all(processes.map(({ child }) => child.call('arm', { head: BEFORE + MISSED })));
      const clientBefore = await cpuOf(processes.map((p) => p.child));
      const startedAt = Number(process.hrtime.bigint()) / 1e6;
      if (variant === 'lifeline-hint') await first.child.call('shutdown', hint, 60_000);
      await first.child.kill('SIGKILL');
      const goneMs = Number(process.hrtime.bigint()) / 1e6 - startedAt;
      const second = await context.server(stack, { ...listen, port: first.port, prepublish: BEFORE + MISSED });
      const restartMs = Number(process.hrtime.bigint()) / 1e6 - startedAt;
      const done = await Promise.all(processes.map(({ child }) => child.call<Done>('done', { timeoutMs: backTimeoutMs }, backTimeoutMs + 10_000)));
      const accepts = await second.child.call<number[]>('accepts');
      const serverCpuMs = await cpuOf([second.child]);
      const clientCpuMs = (await cpuOf(processes.map((p) => p.child))) - clientBefore;
      const times = done.flatMap((d) => d.times).map((t) => t - startedAt);
      const total = done.reduce((n, d) => n + d.total, 0);
      const buckets = new Map<number, number>();
      for (const at of accepts) {
        const bucket = Math.floor((at - startedAt) / BUCKET_MS);
        buckets.set(bucket, (buckets.get(bucket) ?? 0) + 1);
      }
      return {
        allBackMs: times.length === total ? max(times) : NaN,
        p50BackMs: percentile(times, 50),
        peakAcceptPerSec: (max([...buckets.values()]) * 1000) / BUCKET_MS,
        caughtUpPct: (100 * times.length) / total,
        accepts: accepts.length,
        goneMs,
        restartMs,
        serverCpuMs,
        clientCpuMs,
      };
    },
  };
}
