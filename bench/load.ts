// `npm run load`: many `lifeline.v1` connections (lean clients in child processes, each
// subscribed to one of `--channels` channels) against a `lifeline serve` process, then a publish
// rate stepped up (every step publishes `rate` events per second to every channel through the
// HTTP API). Per step: deliveries/s, publish-to-delivery p50/p99, whether every event arrived in
// order, server RSS per connection, event-loop delay p99 from /metrics, and how /healthz and
// /metrics answered meanwhile. Bounded in time; every child is killed on every path. Not in CI.
import { rmSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { Child, killAll } from './process/child.js';
import { max, percentile, sum } from './stats.js';
import { ServeProcess, type Timed } from './serve/serve-process.js';

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '10000' },
    channels: { type: 'string', default: '100' },
    rates: { type: 'string', default: '1,2,5,10,20' },
    'step-seconds': { type: 'string', default: '15' },
    'client-processes': { type: 'string', default: '4' },
    'p99-limit': { type: 'string', default: '250' },
    'publish-timeout': { type: 'string', default: '10000' },
  },
});
const N = Number(values.connections);
const CHANNELS = Number(values.channels);
const RATES = (values.rates ?? '').split(',').map(Number);
const STEP_MS = Number(values['step-seconds']) * 1000;
const PROCESSES = Number(values['client-processes']);
const P99_LIMIT = Number(values['p99-limit']);
/** An HTTP publish unanswered after this long counts as failed and is sent again (same `s`, next attempt). */
const PUBLISH_TIMEOUT_MS = Number(values['publish-timeout']);
const PREFIX = 'load:c';
const DRAIN_MS = 10_000;
/** The whole run's bound: connecting, every step with its drain, and slack. */
const RUN_MS = 120_000 + N * 10 + RATES.length * (STEP_MS + DRAIN_MS + 5000);

interface StepResult {
  readonly rate: number;
  readonly publishedPerSec: number;
  /** Publishes not answered with success (a 10 s timeout, an error): sent again with the same `s`. */
  readonly failedPublishes: number;
  readonly expected: number;
  readonly received: number;
  readonly outOfOrder: number;
  /** Second copies of a publish the server accepted although its HTTP answer timed out (then sent again). */
  readonly retried: number;
  readonly deliveriesPerSec: number;
  /** The HTTP publish's own round trip (part of publish-to-delivery). */
  readonly publishP50Ms: number;
  readonly publishP99Ms: number;
  readonly p50: number;
  readonly p99: number;
  readonly inOrder: boolean;
  readonly rssPerConnKB: number;
  readonly loopP99Ms: number;
  readonly loopMaxMs: number;
  readonly healthz: { readonly ok: number; readonly failed: number; readonly p99Ms: number; readonly maxMs: number };
  readonly metrics: { readonly ok: number; readonly failed: number; readonly p99Ms: number; readonly maxMs: number };
}

function fromHistogram(buckets: readonly [number, number][], p: number): number {
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const total = sum(sorted.map(([, n]) => n));
  if (total === 0) return NaN;
  let seen = 0;
  for (const [ms, n] of sorted) {
    seen += n;
    if (seen >= (p / 100) * total) return ms + 1; // the bucket's upper edge
  }
  return NaN;
}

function summary(samples: readonly Timed<string>[]): StepResult['healthz'] {
  const ms = samples.map((s) => s.ms);
  return { ok: samples.filter((s) => s.ok).length, failed: samples.filter((s) => !s.ok).length, p99Ms: Math.round(percentile(ms, 99)), maxMs: Math.round(max(ms)) };
}

async function bundleClient(): Promise<string> {
  const outdir = fileURLToPath(new URL(`./.build/load-${process.pid}`, import.meta.url));
  await build({ entryPoints: { 'load-client': fileURLToPath(new URL('./children/load-client.ts', import.meta.url)) }, bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', outdir, logLevel: 'error' });
  return `${outdir}/load-client.js`;
}

async function run(): Promise<void> {
  const started = Date.now();
  console.log(`load: ${N} connections over ${CHANNELS} channels from ${PROCESSES} client processes; rates ${RATES.join(', ')} events/s per channel, ${STEP_MS / 1000} s each`);
  console.log(`machine: ${availableParallelism()} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; node ${process.version}`);
  const script = await bundleClient();
  try {
    await measure(started, script);
  } finally {
    rmSync(dirname(script), { recursive: true, force: true });
  }
}

async function measure(started: number, script: string): Promise<void> {
  const server = await ServeProcess.start([
    '--allow-anonymous',
    '--channels',
    JSON.stringify({ load: { history: { size: 100, ttl: 60_000 } } }),
    '--max-pending-publishes',
    '10000',
    // The connect phase opens N connections as fast as it can: it measures delivery, not admission (no rate, no refusal while the loop is behind).
    '--admission-rate',
    '1000000',
    '--max-event-loop-delay',
    '0',
  ]);
  try {
    await server.metrics(5000); // resets the event-loop histogram
    const baseRss = server.rss();
    const clients = await Promise.all(Array.from({ length: PROCESSES }, (_, i) => Child.start({ name: `load-client#${i}`, script })));
    const per = Array.from({ length: PROCESSES }, (_, i) => Math.floor(N / PROCESSES) + (i < N % PROCESSES ? 1 : 0));
    const connectStart = Date.now();
    let first = 0;
    const connected = await Promise.all(
      clients.map((child, i) => {
        const args = { port: server.port, count: per[i], channels: CHANNELS, first, prefix: PREFIX, localAddress: `127.0.0.${2 + i}` };
        first += per[i] ?? 0;
        return child.call<{ connected: number; failed: number; errors: string[] }>('connect', args, 60_000 + N * 20);
      }),
    );
    const open = sum(connected.map((c) => c.connected));
    console.log(`connected ${open} of ${N} in ${((Date.now() - connectStart) / 1000).toFixed(1)} s; failed ${sum(connected.map((c) => c.failed))} ${connected.flatMap((c) => c.errors).slice(0, 3).join('; ')}`);
    if (open === 0) throw new Error('no connection opened');
    // Subscribers per channel, as the clients spread them: global index g is on channel g mod CHANNELS.
    const perChannel = new Array<number>(CHANNELS).fill(0);
    {
      let g = 0;
      for (const [i, c] of connected.entries()) {
        for (let k = 0; k < c.connected; k++) {
          const ch = (g + k) % CHANNELS;
          perChannel[ch] = (perChannel[ch] ?? 0) + 1;
        }
        g += per[i] ?? 0;
      }
    }
    const idleRss = server.rss();
    console.log(`server RSS ${(baseRss / 2 ** 20).toFixed(0)} MB empty, ${(idleRss / 2 ** 20).toFixed(0)} MB with ${open} connections: ${((idleRss - baseRss) / open / 1024).toFixed(1)} KB per connection`);

    const results: StepResult[] = [];
    const seqs = new Array<number>(CHANNELS).fill(0);
    // The attempt of each channel's next publish: 0, or how many times its `s` was sent without success.
    const attempts = new Array<number>(CHANNELS).fill(0);
    for (const rate of RATES) {
      if (Date.now() - started > RUN_MS) break;
      await Promise.all(clients.map((c) => c.call('reset')));
      await server.metrics(5000);
      let expected = 0;
      let failedPublishes = 0;
      let published = 0;
      // A publish whose answer never came may still have been accepted: its deliveries are allowed
      // (not expected) until the same `s` goes out again in a later step, as a retry.
      let unsettled = 0;
      // A channel whose `s` is unsettled from the step before: its copy may have arrived then, and
      // the retry's copy now counts as the second one.
      let carried = 0;
      const probes: { healthz: Timed<string>[]; metrics: Timed<string>[]; loopP99: number[]; loopMax: number[] } = { healthz: [], metrics: [], loopP99: [], loopMax: [] };
      let stepping = true;
      const rssSamples: number[] = [];
      const prober = (async () => {
        while (stepping) {
          rssSamples.push(server.rss());
          probes.healthz.push(await server.get('/healthz', 5000));
          const m = await server.metrics(5000);
          probes.metrics.push({ ms: 0, ok: m !== undefined });
          if (m) {
            probes.loopP99.push((m.get('nodejs_eventloop_lag_p99_seconds') ?? NaN) * 1000);
            probes.loopMax.push((m.get('nodejs_eventloop_lag_max_seconds') ?? NaN) * 1000);
          }
          await new Promise((resolve) => setTimeout(resolve, 1000));
        }
      })();
      // the /metrics latency is timed separately (the scrape above parses as well)
      const metricsTimer = (async () => {
        while (stepping) {
          probes.metrics.push(await server.get('/metrics', 5000));
          await new Promise((resolve) => setTimeout(resolve, 1000));
        }
      })();
      const stepStart = performance.now();
      const publishMs: number[] = [];
      // One publisher loop per channel, spread evenly over the period: a channel's next event
      // goes out once its previous publish was answered, so the order the server sees is the
      // order of `s` (the harness cannot reorder), and the channels' publishes interleave.
      await Promise.all(
        Array.from({ length: CHANNELS }, async (_, ch) => {
          const offset = (ch * 1000) / rate / CHANNELS;
          if ((attempts[ch] ?? 0) > 0) carried += perChannel[ch] ?? 0;
          for (let k = 0; ; k++) {
            const due = stepStart + offset + (k * 1000) / rate;
            // a publisher behind schedule stops with the step: the rate reached is what it reached
            if (due - stepStart >= STEP_MS || performance.now() - stepStart >= STEP_MS) break;
            const wait = due - performance.now();
            if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
            const t = Number(process.hrtime.bigint()) / 1e6;
            const attempt = attempts[ch] ?? 0;
            const data = attempt === 0 ? { s: (seqs[ch] ?? 0) + 1, t } : { s: (seqs[ch] ?? 0) + 1, t, r: attempt };
            const ok = await server.publish(`${PREFIX}${ch}`, data, PUBLISH_TIMEOUT_MS);
            publishMs.push(Number(process.hrtime.bigint()) / 1e6 - t);
            published++;
            if (ok) {
              seqs[ch] = (seqs[ch] ?? 0) + 1;
              attempts[ch] = 0;
              expected += perChannel[ch] ?? 0;
            } else {
              failedPublishes++;
              attempts[ch] = attempt + 1; // the next publish of this channel sends the same `s` again
            }
          }
          if ((attempts[ch] ?? 0) > 0) unsettled += perChannel[ch] ?? 0;
        }),
      );
      rssSamples.push(server.rss());
      const publishSeconds = (performance.now() - stepStart) / 1000;
      const drainUntil = Date.now() + DRAIN_MS;
      let received = 0;
      while (Date.now() < drainUntil) {
        received = sum((await Promise.all(clients.map((c) => c.call<{ received: number }>('progress')))).map((p) => p.received));
        if (received >= expected) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const deliverySeconds = (performance.now() - stepStart) / 1000;
      stepping = false;
      await Promise.all([prober, metricsTimer]);
      const reports = await Promise.all(clients.map((c) => c.call<{ received: number; outOfOrder: number; retried: number; buckets: [number, number][]; closed: number }>('report')));
      const retried = sum(reports.map((r) => r.retried));
      received = sum(reports.map((r) => r.received)) - retried;
      const outOfOrder = sum(reports.map((r) => r.outOfOrder));
      const buckets = reports.flatMap((r) => r.buckets);
      const result: StepResult = {
        rate,
        publishedPerSec: Math.round(published / publishSeconds),
        failedPublishes,
        expected,
        received,
        outOfOrder,
        retried,
        deliveriesPerSec: Math.round(received / deliverySeconds),
        publishP50Ms: Math.round(percentile(publishMs, 50)),
        publishP99Ms: Math.round(percentile(publishMs, 99)),
        p50: fromHistogram(buckets, 50),
        p99: fromHistogram(buckets, 99),
        // Every accepted event reached every subscriber once, in order; a publish that timed out
        // may or may not have been accepted, so its deliveries are allowed but not required.
        inOrder: received >= expected - carried && received <= expected + unsettled && outOfOrder === 0 && sum(reports.map((r) => r.closed)) === 0,
        rssPerConnKB: Math.round(((max(rssSamples) - baseRss) / open / 1024) * 10) / 10,
        loopP99Ms: Math.round(max(probes.loopP99) * 10) / 10,
        loopMaxMs: Math.round(max(probes.loopMax) * 10) / 10,
        healthz: summary(probes.healthz),
        metrics: summary(probes.metrics.filter((m) => m.ms > 0)),
      };
      results.push(result);
      console.log(JSON.stringify(result));
      // Higher rates only do worse: stop at the first step that lost or reordered an event.
      if (!result.inOrder) break;
    }
    const passing = results.filter((r) => r.inOrder && r.p99 < P99_LIMIT);
    console.log('\n| events/s per channel | published/s | deliveries/s | HTTP publish p50/p99 ms | p50 ms | p99 ms | all in order | RSS/conn KB | loop p99 ms | loop max ms | /healthz ok, p99, max ms | /metrics ok, p99, max ms |');
    console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const r of results) {
      console.log(`| ${r.rate} | ${r.publishedPerSec} | ${r.deliveriesPerSec} | ${r.publishP50Ms}/${r.publishP99Ms} | ${r.p50} | ${r.p99} | ${r.inOrder ? 'yes' : `no (${r.received}/${r.expected}, ${r.outOfOrder} out of order)`}${r.failedPublishes > 0 ? `; ${r.failedPublishes} publishes timed out and were sent again, ${r.retried} deliveries of both copies` : ''} | ${r.rssPerConnKB} | ${r.loopP99Ms} | ${r.loopMaxMs} | ${r.healthz.ok}/${r.healthz.ok + r.healthz.failed}, ${r.healthz.p99Ms}, ${r.healthz.maxMs} | ${r.metrics.ok}/${r.metrics.ok + r.metrics.failed}, ${r.metrics.p99Ms}, ${r.metrics.maxMs} |`);
    }
    const best = passing.at(-1);
    console.log(`\nhighest rate with p99 < ${P99_LIMIT} ms and every event delivered in order: ${best ? `${best.rate} events/s per channel (${best.deliveriesPerSec} deliveries/s to ${open} connections)` : 'none'}`);
    console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ${((Date.now() - started) / 1000).toFixed(0)} s in all`);
    await Promise.all(clients.map((c) => c.stop(2000)));
  } finally {
    server.kill();
    killAll();
  }
}

const bound = setTimeout(() => {
  console.error(`load: not done within ${RUN_MS / 1000} s; stopping`);
  killAll();
  process.exit(1);
}, RUN_MS);
bound.unref();
run().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    killAll();
    process.exit(1);
  },
);
