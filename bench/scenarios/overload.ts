// Overload: do the clients already connected keep their latency while a flood of new handshakes
// hits the server? One server process, one process of connected lifeline.v1 clients each sending
// a request at a fixed pace (every round trip timed), one flood process opening raw handshakes
// as fast as a bounded number in flight allows (accepted sockets are held: a crowd that stays).
// The round trips before the flood and during it give the ratios; the variants run the server
// without limits, with `admissionRate`, and with `maxConnections`, and the floor sends the flood
// to a plain TCP server in the server's process that answers a fixed 503 (what accepting and
// refusing connections costs with nothing of Lifeline's in the way).
// With `--pin` the server gets CPU 0, the connected clients and the flood CPU 1, the flood at a
// lower priority than the clients: in the real world the flood comes from other machines, here it would otherwise
// compete with the server and the measured clients for the same two cores.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import type { Sizes } from '../options.js';
import { delay, type Metrics, type RunContext, type Scenario } from './scenario.js';

interface Window {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

interface CpuTimes {
  readonly userMs: number;
  readonly systemMs: number;
}

interface FloodResult {
  readonly attempts: number;
  /** Starts the rate asked for that the concurrency cap skipped. */
  readonly missed: number;
  readonly statuses: Readonly<Record<string, number>>;
  readonly startedAt: number;
  readonly endedAt: number;
}

const REFUSING = ['plain-tcp', 'admission-rate', 'max-connections'];
/** The variants whose flood reaches Lifeline (the plain TCP server admits nobody). */
const LIFELINE = ['unlimited', 'admission-rate', 'max-connections'];

/** Headroom of the `max-connections` variant over the connected clients. */
const SPARE_CONNECTIONS = 100;

/**
 * Where each process runs with `--pin`: CPUs (`taskset -c`) and nice value. The measured
 * processes run at nice -10, above whatever else the machine runs; the flood at 0, below the
 * clients it shares its CPU with.
 */
const PLACES = {
  server: { cpus: '0', nice: -10 },
  clients: { cpus: '1', nice: -10 },
  flood: { cpus: '1', nice: 0 },
} as const;

/**
 * With autogroup scheduling (Linux's default for desktop and many server kernels) nice values
 * only rank threads within one session's group, and groups share the CPU evenly: the run's
 * group (the harness and its children) is raised while it measures, then set back.
 */
const GROUP_NICE = -10;
const AUTOGROUP = '/proc/self/autogroup';

async function withGroupNice<T>(nice: number, work: () => Promise<T>): Promise<T> {
  if (!existsSync(AUTOGROUP)) return work();
  const previous = /nice (-?\d+)/.exec(readFileSync(AUTOGROUP, 'utf8'))?.[1] ?? '0';
  writeFileSync(AUTOGROUP, String(nice));
  try {
    return await work();
  } finally {
    writeFileSync(AUTOGROUP, previous);
  }
}

/** Why pinning cannot be done here, if it cannot. */
function pinUnavailable(): string | undefined {
  if (availableParallelism() < 2) return 'pinning needs 2 CPUs';
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'pinning needs taskset (util-linux)';
  }
}

export function overloadScenario(sizes: Sizes, pin: boolean): Scenario {
  const { clients, intervalMs, baselineMs, floodMs, concurrency, maxAttempts, admissionRate, floodRate } = sizes.overload;
  const limits: Readonly<Record<string, Readonly<Record<string, number>>>> = {
    'plain-tcp': {},
    unlimited: {},
    'admission-rate': { admissionRate },
    'max-connections': { maxConnections: clients + SPARE_CONNECTIONS },
  };
  const unavailable = pin ? pinUnavailable() : undefined;
  return {
    key: 'overload',
    title: `Handshake flood against ${clients} connected clients${pin ? ' (pinned: server on CPU 0 at nice -10; clients at nice -10, flood at 0 on CPU 1)' : ''}`,
    stacks: Object.keys(limits),
    ...(unavailable === undefined ? {} : { unavailable }),
    params: { clients, requestEveryMs: intervalMs, baselineMs, floodMs, floodConcurrency: concurrency, floodRate, maxAttempts, admissionRate, maxConnections: clients + SPARE_CONNECTIONS, pinned: pin ? PLACES : false },
    metrics: {
      p99Ratio: { label: 'connected clients: request p99, flood / before', unit: 'x', better: 'lower' },
      p50Ratio: { label: 'connected clients: request p50, flood / before', unit: 'x', better: 'lower' },
      p50BeforeMs: { label: 'request p50 before', unit: 'ms', better: 'lower' },
      p99BeforeMs: { label: 'request p99 before', unit: 'ms', better: 'lower' },
      maxBeforeMs: { label: 'request max before', unit: 'ms', better: 'lower' },
      p50DuringMs: { label: 'request p50 during the flood', unit: 'ms', better: 'lower' },
      p99DuringMs: { label: 'request p99 during the flood', unit: 'ms', better: 'lower' },
      maxDuringMs: { label: 'request max during the flood', unit: 'ms', better: 'lower' },
      p99SettledMs: { label: 'request p99 during the flood, after its first second', unit: 'ms', better: 'lower' },
      attemptsPerSec: { label: 'flood handshakes', unit: '/s', better: 'higher' },
      accepted: { label: 'flood handshakes accepted (101)', unit: '', better: 'lower', only: LIFELINE },
      acceptedPerSec: { label: 'flood accepted', unit: '/s', better: 'lower', only: LIFELINE },
      refused: { label: 'flood refused 503 + Retry-After', unit: '', better: 'higher', only: REFUSING },
      missed: { label: 'flood starts skipped (concurrency cap)', unit: '', better: 'lower', zeroOk: true },
      failed: { label: 'flood: other outcomes (errors, timeouts)', unit: '', better: 'lower', zeroOk: true },
      serverCpuPct: { label: 'server CPU during the flood', unit: '%', better: 'lower' },
      serverCpuUsPerHandshake: { label: 'server CPU per flood handshake', unit: 'µs', better: 'lower' },
      serverUserUsPerHandshake: { label: '  of which user (JavaScript, V8, libuv)', unit: 'µs', better: 'lower', zeroOk: true },
      serverSystemUsPerHandshake: { label: '  of which kernel (TCP, sockets)', unit: 'µs', better: 'lower', zeroOk: true },
      clientsClosed: { label: 'connected clients closed', unit: '', better: 'lower', zeroOk: true },
      unanswered: { label: 'requests never answered', unit: '', better: 'lower', zeroOk: true },
      loadAverage: { label: 'load average (1 min) after the flood', unit: '', better: 'lower', zeroOk: true },
    },
    timeoutMs: 60_000 + clients * 50 + baselineMs + floodMs * 2,
    run: (context: RunContext, variant: string) => (pin ? withGroupNice(GROUP_NICE, () => measure(context, variant)) : measure(context, variant)),
  };

  async function measure(context: RunContext, variant: string): Promise<Metrics> {
    const script = context.bundle.overload;
    const server = await context.process('overload-server', script, context.profileFlags(variant));
    const steady = await context.process('overload-clients', script);
    const flooder = await context.process('overload-flood', script);
    if (pin) {
      await Promise.all([server.call('place', PLACES.server), steady.call('place', PLACES.clients), flooder.call('place', PLACES.flood)]);
    }
    const { port, plainPort } = await server.call<{ port: number; plainPort?: number }>('listen', { ...limits[variant], plain: variant === 'plain-tcp' }, 20_000);
    await steady.call('startSteady', { port, clients, intervalMs }, 60_000 + clients * 100);
    await context.waitQuiet();
    const baselineFrom = Number(process.hrtime.bigint()) / 1e6;
    await delay(baselineMs);
    const cpuBefore = await server.call<CpuTimes>('cpu');
    const flood = await flooder.call<FloodResult>('flood', { port: plainPort ?? port, durationMs: floodMs, concurrency, maxAttempts, rate: floodRate }, floodMs + 30_000);
    const loadAverage = loadavg()[0] ?? NaN;
    const cpuAfter = await server.call<CpuTimes>('cpu');
  const serverUserMs = cpuAfter.userMs - cpuBefore.userMs;
  const serverSystemMs = cpuAfter.systemMs - cpuBefore.systemMs;
  const serverCpuMs = serverUserMs + serverSystemMs;
    const windows = [
      { from: baselineFrom, to: flood.startedAt },
      { from: flood.startedAt, to: flood.endedAt },
      // Past the first second (or half, in a shorter flood): the admission bucket's initial burst is spent.
      { from: flood.startedAt + Math.min(1000, (flood.endedAt - flood.startedAt) / 2), to: flood.endedAt },
    ];
    const report = await steady.call<{ windows: Window[]; unanswered: number; closed: number }>('stopSteady', { drainMs: 5000, windows }, 30_000);
    const [before, during, settled] = report.windows;
    if (!before || !during || !settled || before.count === 0 || during.count === 0 || settled.count === 0) throw new Error(`no round trips measured (${JSON.stringify(report.windows)})`);
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
      p99SettledMs: settled.p99,
      attemptsPerSec: flood.attempts / floodSec,
      ...(LIFELINE.includes(variant) ? { accepted, acceptedPerSec: accepted / floodSec } : {}),
      ...(REFUSING.includes(variant) ? { refused } : {}),
      missed: flood.missed,
      failed: flood.attempts - accepted - refused,
      serverCpuPct: serverCpuMs / (floodSec * 10),
      serverCpuUsPerHandshake: (serverCpuMs * 1000) / flood.attempts,
    serverUserUsPerHandshake: (serverUserMs * 1000) / flood.attempts,
    serverSystemUsPerHandshake: (serverSystemMs * 1000) / flood.attempts,
      clientsClosed: report.closed,
      unanswered: report.unanswered,
      loadAverage,
    };
  }
}
