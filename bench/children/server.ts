// A server under test, one per process: `node server.js <stack>`. The harness drives it over
// IPC (listen, publish, usage, gc, shutdown) and reads its CPU time and memory from inside.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session as Inspector } from 'node:inspector';
import { dirname } from 'node:path';
import { getHeapSpaceStatistics } from 'node:v8';
import { constants as perf, monitorEventLoopDelay, PerformanceObserver, type IntervalHistogram } from 'node:perf_hooks';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { nowMs, numberArg, optionalNumber, serve, usage, type Handlers } from '../process/rpc.js';
import type { BenchServer, ListenConfig, RedisConfig } from './servers/bench-server.js';
import { FloorBench } from './servers/floor.js';
import { LifelineBench } from './servers/lifeline.js';
import { SocketIoBench } from './servers/socketio.js';
import { WsBench } from './servers/ws.js';

function create(stack: string | undefined): BenchServer {
  switch (stack) {
    case 'lifeline':
      return new LifelineBench();
    case 'ws':
      return new WsBench();
    case 'socketio':
      return new SocketIoBench();
    case 'floor':
      return new FloorBench();
    default:
      throw new Error(`unknown stack "${String(stack)}"`);
  }
}

/** Peak resident set size since the process started, bytes (Linux; 0 elsewhere). */
function peakRss(): number {
  try {
    const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Where the RSS is, besides the heap in use: V8's pages (old-space free, young generation) and the rest. */
interface Collected {
  rss: number;
  heapUsed: number;
  /** Resident pages of every V8 space. */
  heapResident: number;
  /** Resident old-space pages not in use (free space between the objects that stayed). */
  oldFree: number;
  /** Resident young-generation pages. */
  young: number;
}

/**
 * Memory after full collections: RSS right after a GC still holds pages V8's background threads
 * are about to release, so it is sampled five times, 100 ms apart, each after a full GC, and the
 * lowest reading is kept (the spaces as they were at the lowest RSS).
 */
async function collect(): Promise<Collected> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('start the server with --expose-gc');
  let best: Collected = { rss: Infinity, heapUsed: Infinity, heapResident: 0, oldFree: 0, young: 0 };
  for (let i = 0; i < 5; i++) {
    gc();
    gc();
    const { rss, heapUsed } = process.memoryUsage();
    if (rss < best.rss) {
      const spaces = getHeapSpaceStatistics();
      const old = spaces.find((space) => space.space_name === 'old_space');
      best = {
        rss,
        heapUsed: best.heapUsed,
        heapResident: spaces.reduce((sum, space) => sum + space.physical_space_size, 0),
        oldFree: old ? Math.max(0, old.physical_space_size - old.space_used_size) : 0,
        young: spaces.find((space) => space.space_name === 'new_space')?.physical_space_size ?? 0,
      };
    }
    best.heapUsed = Math.min(best.heapUsed, heapUsed);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return best;
}

const server = create(process.argv[2]);
/** The in-process profiler of `profileStart`/`profileStop` (a window of the run, not its whole life). */
let inspector: Inspector | undefined;
function inspect(method: string, params: object = {}): Promise<unknown> {
  if (!inspector) {
    inspector = new Inspector();
    inspector.connect();
  }
  const session = inspector;
  return new Promise((done, fail) => session.post(method, params, (error, result) => (error ? fail(error) : done(result))));
}
const accepts: number[] = [];
let loopDelay: IntervalHistogram | undefined;
/** The longest garbage-collection pause since `loopReset`, and its kind: what a stall may be. */
let longestGc = { ms: 0, kind: '' };
const GC_KINDS: Readonly<Record<number, string>> = { [perf.NODE_PERFORMANCE_GC_MAJOR]: 'major', [perf.NODE_PERFORMANCE_GC_MINOR]: 'minor', [perf.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental', [perf.NODE_PERFORMANCE_GC_WEAKCB]: 'weak callbacks' };
const gcObserver = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if (entry.duration <= longestGc.ms) continue;
    const kind = (entry as PerformanceEntry & { readonly detail?: { readonly kind?: number } }).detail?.kind;
    longestGc = { ms: entry.duration, kind: kind === undefined ? 'unknown' : (GC_KINDS[kind] ?? String(kind)) };
  }
});
/** The event-loop delay sampler's period, ms. */
const LOOP_RESOLUTION_MS = 5;
/** The last `seq` published (the sustained scenario's steps continue the sequence). */
let lastSeq = 0;

function redisConfig(value: unknown): RedisConfig | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { module, url, prefix } = value as Record<string, unknown>;
  return typeof module === 'string' && typeof url === 'string' && typeof prefix === 'string' ? { module, url, prefix } : undefined;
}

const handlers: Handlers = {
  async listen(args) {
    const epoch = args.epoch;
    const config: ListenConfig = {
      port: numberArg(args, 'port'),
      prepublish: optionalNumber(args, 'prepublish') ?? 0,
      ...(typeof epoch === 'string' ? { epoch } : {}),
      ...(redisConfig(args.redis) ? { redis: redisConfig(args.redis) } : {}),
      ...(args.heartbeat === true ? { heartbeat: true } : {}),
    };
    return { port: await server.listen(config, () => accepts.push(nowMs())) };
  },
  /**
   * Publishes `messages` events: `burst` all in one go (the publisher never yields to I/O, so
   * whatever a stack buffers, it buffers), `paced` one per event-loop turn (sockets flush between
   * publishes).
   */
  async publishBurst(args) {
    const messages = numberArg(args, 'messages');
    const paced = args.mode === 'paced';
    const body = 'x'.repeat(numberArg(args, 'bodySize'));
    const startedAt = nowMs();
    for (let seq = 1; seq <= messages; seq++) {
      await server.publish(seq, body);
      if (paced) await nextTurn();
    }
    return { startedAt, endedAt: nowMs() };
  },
  async publishOne(args) {
    const at = nowMs();
    await server.publish(numberArg(args, 'seq'), 'x'.repeat(numberArg(args, 'bodySize')));
    return { at };
  },
  /**
   * Publishes `rate` events per second for `seconds`, each stamped with the time it was due
   * (`t`), so an event-loop stall that delays the publish itself counts in its latency. Each
   * publish is awaited before the next (the order is the order of `seq`). A publisher that fell
   * behind stops when the step's time is up: the rate it reached is what it reached.
   */
  async publishSteady(args) {
    const rate = numberArg(args, 'rate');
    const events = Math.max(1, Math.round(rate * numberArg(args, 'seconds')));
    const body = 'x'.repeat(numberArg(args, 'bodySize'));
    const firstSeq = lastSeq + 1;
    const startedAt = nowMs();
    let late = 0;
    // A second of grace: a publisher a little late on its last events still sends them.
    const endAt = startedAt + numberArg(args, 'seconds') * 1000 + 1000;
    for (let k = 0; k < events; k++) {
      const due = startedAt + (k * 1000) / rate;
      if (k > 0 && nowMs() >= endAt) break;
      const wait = due - nowMs();
      if (wait > 0) await sleep(wait);
      else if (wait < -10) late++;
      await server.publish(++lastSeq, body, due);
    }
    return { firstSeq, lastSeq, startedAt, endedAt: nowMs(), late };
  },
  lastSeq: () => ({ lastSeq }),
  /** Starts (or restarts) the event-loop delay histogram. */
  loopReset() {
    longestGc = { ms: 0, kind: '' };
    gcObserver.disconnect();
    gcObserver.observe({ entryTypes: ['gc'] });
    loopDelay?.disable();
    loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    loopDelay.enable();
  },
  /**
   * The event-loop delay since `loopReset`, ms: the longest stall and the p99. The histogram
   * records the time between the sampling timer's runs, so the timer's own period is taken off.
   * With them, the longest garbage-collection pause and its kind.
   */
  loopReport() {
    if (!loopDelay) throw new Error('loopReset first');
    return {
      maxMs: Math.max(0, loopDelay.max / 1e6 - LOOP_RESOLUTION_MS),
      p99Ms: Math.max(0, loopDelay.percentile(99) / 1e6 - LOOP_RESOLUTION_MS),
      gcMaxMs: longestGc.ms,
      gcKind: longestGc.kind,
    };
  },
  fillHistory: (args) => server.fillHistory(numberArg(args, 'events'), 'x'.repeat(numberArg(args, 'bodySize'))),
  usage: () => ({ ...usage(), peakRss: peakRss(), connections: server.connections() }),
  gc: () => collect(),
  accepts: () => accepts,
  /** Starts a CPU profile (sampling every `intervalUs`, default 1000 µs). */
  async profileStart(args) {
    await inspect('Profiler.enable');
    await inspect('Profiler.setSamplingInterval', { interval: optionalNumber(args, 'intervalUs') ?? 1000 });
    await inspect('Profiler.start');
  },
  /** Stops the profile and writes it to `file`. */
  async profileStop(args) {
    const file = String(args.file);
    const { profile } = (await inspect('Profiler.stop')) as { profile: unknown };
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(profile));
    return { file };
  },
  async shutdown(args) {
    const retryAfter = optionalNumber(args, 'retryAfter');
    const retrySpread = optionalNumber(args, 'retrySpread');
    const startedAt = nowMs();
    await server.shutdown({ ...(retryAfter === undefined ? {} : { retryAfter }), ...(retrySpread === undefined ? {} : { retrySpread }) });
    return { startedAt, endedAt: nowMs() };
  },
};

serve(handlers);
