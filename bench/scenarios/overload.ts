// Overload: do the clients already connected keep their latency while a flood of new handshakes
// hits the server? One server process, one process of connected lifeline.v1 clients each sending
// a request at a fixed pace (every round trip timed), one flood process opening raw handshakes
// as fast as a bounded number in flight allows (accepted sockets are held: a crowd that stays).
// The round trips before the flood and during it give the ratios; the variants run the server
// without limits, with `admissionRate`, and with `maxConnections`.
import type { Sizes } from '../options.js';
import { cpuOf, delay, type RunContext, type Scenario } from './scenario.js';

interface Window {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

interface FloodResult {
  readonly attempts: number;
  readonly statuses: Readonly<Record<string, number>>;
  readonly startedAt: number;
  readonly endedAt: number;
}

const LIMITED = ['admission-rate', 'max-connections'];

/** Headroom of the `max-connections` variant over the connected clients. */
const SPARE_CONNECTIONS = 100;

export function overloadScenario(sizes: Sizes): Scenario {
  const { clients, intervalMs, baselineMs, floodMs, concurrency, maxAttempts, admissionRate } = sizes.overload;
  const limits: Readonly<Record<string, Readonly<Record<string, number>>>> = {
    unlimited: {},
    'admission-rate': { admissionRate },
    'max-connections': { maxConnections: clients + SPARE_CONNECTIONS },
  };
  return {
    key: 'overload',
    title: `Handshake flood against ${clients} connected clients`,
    stacks: Object.keys(limits),
    params: { clients, requestEveryMs: intervalMs, baselineMs, floodMs, floodConcurrency: concurrency, maxAttempts, admissionRate, maxConnections: clients + SPARE_CONNECTIONS },
    metrics: {
      p99Ratio: { label: 'connected clients: request p99, flood / before', unit: 'x', better: 'lower' },
      p50Ratio: { label: 'connected clients: request p50, flood / before', unit: 'x', better: 'lower' },
      p50BeforeMs: { label: 'request p50 before', unit: 'ms', better: 'lower' },
      p99BeforeMs: { label: 'request p99 before', unit: 'ms', better: 'lower' },
      maxBeforeMs: { label: 'request max before', unit: 'ms', better: 'lower' },
      p50DuringMs: { label: 'request p50 during the flood', unit: 'ms', better: 'lower' },
      p99DuringMs: { label: 'request p99 during the flood', unit: 'ms', better: 'lower' },
      maxDuringMs: { label: 'request max during the flood', unit: 'ms', better: 'lower' },
      attemptsPerSec: { label: 'flood handshakes', unit: '/s', better: 'higher' },
      accepted: { label: 'flood handshakes accepted (101)', unit: '', better: 'lower' },
      acceptedPerSec: { label: 'flood accepted', unit: '/s', better: 'lower' },
      refused: { label: 'flood refused 503 + Retry-After', unit: '', better: 'higher', only: LIMITED },
      failed: { label: 'flood: other outcomes (errors, timeouts)', unit: '', better: 'lower', zeroOk: true },
      serverCpuPct: { label: 'server CPU during the flood', unit: '%', better: 'lower' },
      serverCpuUsPerHandshake: { label: 'server CPU per flood handshake', unit: 'µs', better: 'lower' },
      clientsClosed: { label: 'connected clients closed', unit: '', better: 'lower', zeroOk: true },
      unanswered: { label: 'requests never answered', unit: '', better: 'lower', zeroOk: true },
    },
    timeoutMs: 60_000 + clients * 50 + baselineMs + floodMs * 2,
    async run(context: RunContext, variant: string) {
      const script = context.bundle.overload;
      const server = await context.process('overload-server', script);
      const steady = await context.process('overload-clients', script);
      const flooder = await context.process('overload-flood', script);
      const { port } = await server.call<{ port: number }>('listen', limits[variant] ?? {}, 20_000);
      await steady.call('startSteady', { port, clients, intervalMs }, 60_000 + clients * 100);
      await context.waitQuiet();
      const baselineFrom = Number(process.hrtime.bigint()) / 1e6;
      await delay(baselineMs);
      const cpuBefore = await cpuOf([server]);
      const flood = await flooder.call<FloodResult>('flood', { port, durationMs: floodMs, concurrency, maxAttempts }, floodMs + 30_000);
      const serverCpuMs = (await cpuOf([server])) - cpuBefore;
      const windows = [
        { from: baselineFrom, to: flood.startedAt },
        { from: flood.startedAt, to: flood.endedAt },
      ];
      const report = await steady.call<{ windows: Window[]; unanswered: number; closed: number }>('stopSteady', { drainMs: 5000, windows }, 30_000);
      const [before, during] = report.windows;
      if (!before || !during || before.count === 0 || during.count === 0) throw new Error(`no round trips measured (${JSON.stringify(report.windows)})`);
      const floodSec = (flood.endedAt - flood.startedAt) / 1000;
      const accepted = flood.statuses['101'] ?? 0;
      const refused = flood.statuses['503'] ?? 0;
      return {
        p99Ratio: during.p99 / before.p99,
        p50Ratio: during.p50 / before.p50,
        p50BeforeMs: before.p50,
        p99BeforeMs: before.p99,
        maxBeforeMs: before.max,
        p50DuringMs: during.p50,
        p99DuringMs: during.p99,
        maxDuringMs: during.max,
        attemptsPerSec: flood.attempts / floodSec,
        accepted,
        acceptedPerSec: accepted / floodSec,
        ...(variant === 'unlimited' ? {} : { refused }),
        failed: flood.attempts - accepted - refused,
        serverCpuPct: serverCpuMs / (floodSec * 10),
        serverCpuUsPerHandshake: (serverCpuMs * 1000) / flood.attempts,
        clientsClosed: report.closed,
        unanswered: report.unanswered,
      };
    },
  };
}
