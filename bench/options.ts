// Command-line options and the three size presets (full, --quick, --smoke).
import { parseArgs } from 'node:util';

export const SCENARIOS = ['echo', 'request', 'fanout', 'sustained', 'idle', 'connect', 'storm', 'catchup', 'redis', 'overload'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface Sizes {
  readonly rounds: number;
  readonly echo: { readonly warmup: number; readonly samples: number; readonly clients: number; readonly inflight: number; readonly warmupMs: number; readonly durationMs: number; readonly bodySize: number };
  readonly fanout: { readonly subscribers: readonly number[]; readonly deliveries: number; readonly probes: number; readonly bodySize: number };
  /**
   * Sustained fan-out: `connections` subscribers of one channel, `rates` (events/s) stepped up,
   * `seconds` each, until p99 publish-to-delivery reaches `p99LimitMs`. One round unless
   * `--rounds` says otherwise (a full run takes minutes per stack).
   */
  readonly sustained: { readonly connections: number; readonly seconds: number; readonly rates: readonly number[]; readonly bodySize: number; readonly p99LimitMs: number; readonly drainMs: number; readonly rounds: number; readonly keepGoing: boolean };
  readonly idle: { readonly connections: number };
  readonly connect: { readonly connections: number; readonly concurrency: number };
  /** `retryAfter`/`retrySpread` override the server's defaults (the smoke run cannot wait out a real spread). */
  readonly storm: { readonly clients: number; readonly retryAfter?: number; readonly retrySpread?: number };
  readonly catchup: { readonly events: number; readonly repeats: number };
  readonly redis: { readonly subscribers: number; readonly deliveries: number; readonly probes: number };
  /** `clients` connected, one request each per `intervalMs`; the flood runs `floodMs` with `concurrency` handshakes in flight. */
  readonly overload: {
    readonly clients: number;
    readonly intervalMs: number;
    readonly baselineMs: number;
    readonly floodMs: number;
    readonly concurrency: number;
    readonly maxAttempts: number;
    readonly admissionRate: number;
    /** Flood handshakes started per second; 0: as fast as `concurrency` in flight allows. */
    readonly floodRate: number;
  };
  /** Bounded wait for a quiet machine before each measurement; 0 takes one short sample and goes on. */
  readonly quietMaxWaitMs: number;
}

const full: Sizes = {
  rounds: 3,
  echo: { warmup: 2000, samples: 10_000, clients: 100, inflight: 10, warmupMs: 1000, durationMs: 3000, bodySize: 64 },
  fanout: { subscribers: [1000, 5000], deliveries: 300_000, probes: 20, bodySize: 100 },
  sustained: { connections: 10_000, seconds: 30, rates: [2, 4, 6, 8, 10, 12, 14, 16, 20], bodySize: 100, p99LimitMs: 100, drainMs: 10_000, rounds: 1, keepGoing: false },
  idle: { connections: 10_000 },
  connect: { connections: 2000, concurrency: 100 },
  storm: { clients: 5000 },
  catchup: { events: 1000, repeats: 20 },
  redis: { subscribers: 1000, deliveries: 200_000, probes: 200 },
  overload: { clients: 100, intervalMs: 100, baselineMs: 3000, floodMs: 3000, concurrency: 200, maxAttempts: 50_000, admissionRate: 500, floodRate: 0 },
  quietMaxWaitMs: 30_000,
};

const quick: Sizes = {
  ...full,
  rounds: 1,
  echo: { ...full.echo, warmup: 1000, samples: 3000, warmupMs: 500, durationMs: 1500 },
  fanout: { ...full.fanout, subscribers: [1000], deliveries: 100_000, probes: 10 },
  sustained: { ...full.sustained, connections: 2000, seconds: 10, rates: [10, 20, 30, 40, 50, 60, 80, 100] },
  idle: { connections: 2000 },
  connect: { connections: 1000, concurrency: 100 },
  storm: { clients: 1000 },
  catchup: { events: 1000, repeats: 10 },
  redis: { subscribers: 1000, deliveries: 100_000, probes: 50 },
  quietMaxWaitMs: 10_000,
};

const smoke: Sizes = {
  rounds: 1,
  echo: { warmup: 50, samples: 200, clients: 10, inflight: 5, warmupMs: 100, durationMs: 300, bodySize: 64 },
  fanout: { subscribers: [20], deliveries: 2000, probes: 3, bodySize: 100 },
  // Proves the harness, not the figures: a loaded CI machine may not hold 100 ms at any rate.
  sustained: { connections: 20, seconds: 1, rates: [20, 50], bodySize: 100, p99LimitMs: 2000, drainMs: 5000, rounds: 1, keepGoing: false },
  // Enough that the RSS growth stands clear of page-size noise.
  idle: { connections: 1500 },
  connect: { connections: 100, concurrency: 20 },
  storm: { clients: 40, retryAfter: 800, retrySpread: 200 },
  catchup: { events: 1000, repeats: 3 },
  redis: { subscribers: 20, deliveries: 2000, probes: 5 },
  overload: { clients: 10, intervalMs: 50, baselineMs: 300, floodMs: 1500, concurrency: 10, maxAttempts: 300, admissionRate: 20, floodRate: 0 },
  quietMaxWaitMs: 0,
};

export interface BenchOptions {
  readonly preset: 'full' | 'quick' | 'smoke';
  readonly scenarios: readonly ScenarioName[];
  /** Only these stacks (or storm variants); undefined runs them all. */
  readonly stacks: readonly string[] | undefined;
  readonly sizes: Sizes;
  readonly outDir: string;
  /** Also write `latest.json`. */
  readonly latest: boolean;
  /** Stacks whose server children run with `--cpu-prof` (profiles land in the output directory). */
  readonly profile: readonly string[];
  readonly redisUrl: string;
  /** Fan-out publisher: one event per event-loop turn (`paced`, default) or every event in one go (`burst`). */
  readonly publish: 'burst' | 'paced';
  /** Overload: pin the server to CPU 0, the clients and the flood to CPU 1; the flood at a lower priority. */
  readonly pin: boolean;
  /** Lifeline's source from another tree (a changed copy of src/), to measure before and after. */
  readonly src: string | undefined;
}

export const usageText = `Usage: npm run bench -- [options]

  --scenario NAMES     comma-separated: ${SCENARIOS.join(', ')} (default: all)
  --stacks NAMES       only these stacks (lifeline, ws, socketio, floor; storm: lifeline-hint,
                       lifeline-crash; redis: memory, redis-1node, redis-2nodes,
                       redis-3nodes; overload: plain-tcp, unlimited, admission-rate,
                       max-connections)
  --rounds N           rounds per scenario; stacks are interleaved within a round (default 3)
  --subscribers N,M    fan-out sizes (default 1000,5000; the redis scenario takes the first)
  --connections N      idle-memory connections and sustained subscribers (default 10000)
  --seconds N          sustained fan-out: seconds per rate step (default 30)
  --rates A,B,C        sustained fan-out: events/s to step through (default 2,4,6,...,16,20)
  --p99-limit MS       sustained fan-out: the p99 latency bound (default 100)
  --keep-going         sustained fan-out: run every rate step, also past the first that missed
  --clients N          reconnect-storm clients (default 5000)
  --admission-rate N   overload: the admission-rate variant's limit (default 500/s)
  --flood-rate N       overload: flood handshakes started per second (default: as fast as
                       200 in flight allow)
  --pin                overload: server on CPU 0, connected clients and the flood on CPU 1
                       (taskset); server and clients at nice -10, the flood at 0
  --quick              smaller sizes, one round
  --smoke              tiny sizes, one round, every scenario in well under a minute (CI)
  --out DIR            where results go (default bench/results)
  --latest             also write DIR/latest.json
  --profile STACKS     run these stacks' servers with --cpu-prof (profiles in DIR/profiles)
  --redis URL          Redis for the redis scenario (default redis://127.0.0.1:6379)
  --publish MODE       fan-out publisher: paced (one event per event-loop turn, default) or
                       burst (every event in one synchronous loop: rewards write coalescing)
  --src DIR            bundle Lifeline from DIR instead of src/ (a changed copy, to compare)
  --help
`;

function list(value: string | undefined): string[] | undefined {
  return value === undefined ? undefined : value.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function positive(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, not "${value}"`);
  return n;
}

/** Parses argv; `help` when the usage was asked for. */
export function parseOptions(argv: readonly string[], defaultOut: string): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      scenario: { type: 'string' },
      stacks: { type: 'string' },
      rounds: { type: 'string' },
      subscribers: { type: 'string' },
      connections: { type: 'string' },
      seconds: { type: 'string' },
      rates: { type: 'string' },
      'p99-limit': { type: 'string' },
      'keep-going': { type: 'boolean' },
      clients: { type: 'string' },
      'flood-rate': { type: 'string' },
      'admission-rate': { type: 'string' },
      pin: { type: 'boolean' },
      quick: { type: 'boolean' },
      smoke: { type: 'boolean' },
      out: { type: 'string' },
      latest: { type: 'boolean' },
      profile: { type: 'string' },
      redis: { type: 'string' },
      publish: { type: 'string' },
      src: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) return 'help';
  const preset = values.smoke ? 'smoke' : values.quick ? 'quick' : 'full';
  const base = preset === 'smoke' ? smoke : preset === 'quick' ? quick : full;
  const scenarios = list(values.scenario) ?? [...SCENARIOS];
  for (const name of scenarios) if (!(SCENARIOS as readonly string[]).includes(name)) throw new Error(`unknown scenario "${name}" (known: ${SCENARIOS.join(', ')})`);
  const subscribers = list(values.subscribers)?.map((s) => positive('subscribers', s) ?? 0);
  const connections = positive('connections', values.connections);
  const clients = positive('clients', values.clients);
  const rounds = positive('rounds', values.rounds);
  const rates = list(values.rates)?.map((r) => {
    const n = Number(r);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--rates must be positive numbers, not "${r}"`);
    return n;
  });
  const sizes: Sizes = {
    ...base,
    rounds: rounds ?? base.rounds,
    fanout: { ...base.fanout, subscribers: subscribers ?? base.fanout.subscribers },
    redis: { ...base.redis, subscribers: subscribers?.[0] ?? base.redis.subscribers },
    sustained: {
      ...base.sustained,
      connections: connections ?? base.sustained.connections,
      seconds: positive('seconds', values.seconds) ?? base.sustained.seconds,
      rates: rates ?? base.sustained.rates,
      p99LimitMs: positive('p99-limit', values['p99-limit']) ?? base.sustained.p99LimitMs,
      rounds: rounds ?? base.sustained.rounds,
      keepGoing: values['keep-going'] ?? base.sustained.keepGoing,
    },
    idle: { connections: connections ?? base.idle.connections },
    storm: { ...base.storm, clients: clients ?? base.storm.clients },
    overload: {
      ...base.overload,
      floodRate: positive('flood-rate', values['flood-rate']) ?? base.overload.floodRate,
      admissionRate: positive('admission-rate', values['admission-rate']) ?? base.overload.admissionRate,
    },
  };
  const publish = values.publish ?? 'paced';
  if (publish !== 'burst' && publish !== 'paced') throw new Error(`--publish must be burst or paced, not "${publish}"`);
  return {
    preset,
    scenarios: scenarios as ScenarioName[],
    stacks: list(values.stacks),
    sizes,
    outDir: values.out ?? defaultOut,
    latest: values.latest ?? false,
    profile: list(values.profile) ?? [],
    redisUrl: values.redis ?? 'redis://127.0.0.1:6379',
    publish,
    pin: values.pin ?? false,
    src: values.src,
  };
}
