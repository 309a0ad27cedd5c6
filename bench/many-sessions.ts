// Many idle sessions on one machine (50,000 by default): `lifeline.v1` sessions with one
// subscription each, heartbeats at their defaults, held idle; then the same count of raw ws
// connections (with the usual ping loop) spread the same way, for the ratios.
//
//   node --import tsx bench/many-sessions.ts [--sessions N] [--idle-seconds S] [--broker redis|memory]
//        [--per-node N] [--stacks lifeline,ws] [--no-one-node] [--out FILE] [--profile]
//
// --profile takes a CPU profile of the first node over the idle window (1 ms sampling) and
// prints where its busy time went per session and second (bench/results/profiles/).
//
// One process cannot hold more sockets than its open-file limit (`ulimit -n`), so the script
// first tries one Lifeline server with as many sessions as that limit (and says how many it took
// and what the others saw), then spreads the sessions over the fewest server processes of at most
// --per-node each (default: the limit less 1,000), one lean-client process per node (each also
// under the limit, from its own 127.0.x.y source address). With --broker redis (the default, when
// Redis answers) the Lifeline nodes share 127.0.0.1:6379 as one service: one publish reaches every
// session; with memory, and for raw ws, each node publishes to its own.
//
// Per stack: server RSS and heap per session (the sum over the nodes of the growth from the empty
// server, each reading after full collections, as the `idle` scenario reads them), the servers'
// CPU over the idle window (heartbeats only), event-loop delay p99 and max, /healthz from the
// harness every second to every node during the window, sessions still open at its end, and the
// time for one event to reach every session. Every child process is ended on every path (the
// harness's registry: normal end, an error, Ctrl-C, the deadline).
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { bundleChildren, type Bundle } from './build.js';
import { fileLimit, machine, sourceState } from './machine.js';
import { parseOptions, type BenchOptions } from './options.js';
import { killAll, type Child } from './process/child.js';
import { formatNumber, formatScenario } from './report.js';
import type { ScenarioResult } from './results-model.js';
import { FANOUT_CHANNEL } from './children/servers/bench-server.js';
import { subscribe, type Node } from './scenarios/fanout-run.js';
import { printProfile } from './profile-kit.js';
import { dropKeys, redisAnswers, redisCpuReader } from './scenarios/redis.js';
import { cpuOf, delay, split, RunContext, type MetricInfo, type Metrics, type Usage } from './scenarios/scenario.js';
import { httpGet, socketsOf } from './serve/serve-process.js';
import { max, percentile, sum } from './stats.js';

/** The channel every session subscribes to: the fan-out one, which the server children publish to. */
const CHANNEL = FANOUT_CHANNEL;
/** Past V8's 5 s window of allocation rate (see scenarios/idle.ts). */
const SETTLE_MS = 6_000;
const HEALTH_TIMEOUT_MS = 2_000;

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '50000' },
    'idle-seconds': { type: 'string', default: '150' },
    broker: { type: 'string' },
    'per-node': { type: 'string' },
    stacks: { type: 'string', default: 'lifeline,ws' },
    'no-one-node': { type: 'boolean', default: false },
    redis: { type: 'string', default: 'redis://127.0.0.1:6379' },
    out: { type: 'string' },
    profile: { type: 'boolean', default: false },
  },
});
const SESSIONS = Number(values.sessions);
const IDLE_MS = Number(values['idle-seconds']) * 1000;
const STACKS = values.stacks.split(',').filter((s) => s === 'lifeline' || s === 'ws');
const REDIS_URL = values.redis;
const limit = fileLimit();
/** Sockets one process may hold: its open-file limit, less room for its own files and the probes. */
const PER_PROCESS = (limit?.hard ?? Infinity) === Infinity ? 100_000 : (limit?.hard ?? 0) - 1000;
const PER_NODE = Number(values['per-node'] ?? PER_PROCESS);
if (!Number.isInteger(SESSIONS) || SESSIONS <= 0 || !(IDLE_MS > 0) || !Number.isInteger(PER_NODE) || PER_NODE <= 0 || PER_NODE > PER_PROCESS) {
  throw new Error(`--sessions and --idle-seconds must be positive, --per-node at most ${PER_PROCESS}`);
}

const METRICS: Readonly<Record<string, MetricInfo>> = {
  nodes: { label: 'server processes', unit: '', better: 'lower' },
  connectS: { label: 'time to open every session', unit: 's', better: 'lower' },
  rssPerSessionKB: { label: 'server RSS per session (sum over nodes)', unit: 'KB', better: 'lower' },
  rssSettledPerSessionKB: { label: 'the same, young generation left out', unit: 'KB', better: 'lower' },
  heapPerSessionKB: { label: 'server heap per session (sum over nodes)', unit: 'KB', better: 'lower' },
  rssMB: { label: 'server RSS, all nodes, after the idle window', unit: 'MB', better: 'lower' },
  redisPerSessionKB: { label: 'Redis used_memory per session', unit: 'KB', better: 'lower', only: ['lifeline'] },
  idleCpuPct: { label: 'server CPU while idle, all nodes', unit: '% of a core', better: 'lower' },
  idleCpuUsPerSessionS: { label: 'server CPU while idle per session', unit: 'µs/s', better: 'lower' },
  redisIdleCpuPct: { label: 'Redis CPU while idle', unit: '% of a core', better: 'lower', only: ['lifeline'] },
  clientIdleCpuPct: { label: 'client processes CPU while idle', unit: '% of a core', better: 'lower' },
  loopP99Ms: { label: 'event-loop delay p99, worst node', unit: 'ms', better: 'lower', zeroOk: true },
  loopMaxMs: { label: 'event-loop delay max, worst node', unit: 'ms', better: 'lower', zeroOk: true },
  gcMaxMs: { label: 'longest GC pause, worst node', unit: 'ms', better: 'lower', zeroOk: true },
  healthP99Ms: { label: '/healthz while idle, p99', unit: 'ms', better: 'lower' },
  healthMaxMs: { label: '/healthz while idle, max', unit: 'ms', better: 'lower' },
  healthFailed: { label: '/healthz failed or later than 2 s', unit: '', better: 'lower', zeroOk: true },
  lostSessions: { label: 'sessions closed during the idle window', unit: '', better: 'lower', zeroOk: true },
  publishAllMs: { label: 'one event to every session (publish to last delivery)', unit: 'ms', better: 'lower' },
};

function log(line: string): void {
  console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
}

function gcOf(nodes: readonly Node[]): Promise<Usage[]> {
  return Promise.all(nodes.map((node) => node.child.call<Usage>('gc', {}, 60_000)));
}

/** /healthz of every node once a second until `until`: every answer's time, and how many failed. */
async function probeHealth(nodes: readonly Node[], until: number): Promise<{ times: number[]; failed: number }> {
  const times: number[] = [];
  let failed = 0;
  while (Date.now() < until) {
    const next = delay(1000);
    for (const answer of await Promise.all(nodes.map((node) => httpGet(node.port, '/healthz', HEALTH_TIMEOUT_MS)))) {
      times.push(answer.ms);
      if (!answer.ok) failed++;
    }
    await next;
  }
  return { times, failed };
}

/**
 * One server, as many sessions as one process may hold files: how many it took, and what the
 * rest saw. Two client processes share them, each under its own limit.
 */
async function oneNode(options: BenchOptions, bundle: Bundle): Promise<Record<string, unknown>> {
  const attempt = Math.min(SESSIONS, limit?.hard ?? SESSIONS);
  const context = new RunContext(options, bundle, 'many-sessions');
  try {
    const node = await context.server('lifeline');
    const clients = await context.clients(2);
    log(`one node: ${attempt.toLocaleString('en-US')} sessions against one server (open-file limit ${limit?.hard ?? '?'})`);
    const results = await Promise.all(
      clients.map(({ child, localAddress }, i) =>
        child.call<{ connected: number; failed: number; errors: string[] }>(
          'connect',
          { stack: 'lifeline', port: node.port, count: split(attempt, 2)[i] ?? 0, concurrency: 50, join: CHANNEL, timeoutMs: 15_000, localAddress },
          120_000 + attempt * 20,
        ),
      ),
    );
    const health = await httpGet(node.port, '/healthz', HEALTH_TIMEOUT_MS);
    // Read from outside: a process out of file descriptors cannot open /proc/self to read its own memory.
    const sockets = socketsOf(node.child.pid);
    const usage = await node.child.call<Usage>('usage').then(
      (u) => `${u.connections ?? '?'} connections`,
      (error: unknown) => `failed: ${(error instanceof Error ? error.message : String(error)).split('\n')[0] ?? ''}`,
    );
    const report = {
      attempted: attempt,
      connected: sum(results.map((r) => r.connected)),
      failed: sum(results.map((r) => r.failed)),
      errors: [...new Set(results.flatMap((r) => r.errors))],
      serverSockets: sockets,
      serverUsageCommand: usage,
      serverAlive: node.child.alive,
      healthzAfter: health.ok ? `200 in ${health.ms.toFixed(1)} ms` : 'no answer',
    };
    log(`one node: ${JSON.stringify(report)}`);
    return report;
  } finally {
    await context.dispose();
  }
}

async function measure(options: BenchOptions, bundle: Bundle, stack: string, broker: 'redis' | 'memory'): Promise<Metrics> {
  const context = new RunContext(options, bundle, 'many-sessions');
  const nodeCount = Math.ceil(SESSIONS / PER_NODE);
  const counts = split(SESSIONS, nodeCount);
  const prefix = `lifeline-many:${process.pid}:`;
  const shared = stack === 'lifeline' && broker === 'redis' && 'module' in bundle.redis;
  const redis = stack === 'lifeline' && shared ? await redisCpuReader(REDIS_URL) : undefined;
  try {
    const listen = stack === 'ws' ? { port: 0, heartbeat: true } : shared && 'module' in bundle.redis ? { port: 0, redis: { module: bundle.redis.module, url: REDIS_URL, prefix } } : { port: 0 };
    const nodes: Node[] = [];
    for (let i = 0; i < nodeCount; i++) nodes.push(await context.server(stack, listen, { gc: true }));
    const servers = nodes.map((n) => n.child);
    await delay(SETTLE_MS);
    const base = await gcOf(nodes);
    const redisBase = redis ? await redis.memory() : NaN;
    const clients = await context.clients(nodeCount);
    log(`${stack}: ${SESSIONS.toLocaleString('en-US')} sessions over ${nodeCount} nodes (${counts.join(', ')})${stack === 'lifeline' ? `, ${shared ? 'sharing Redis' : 'in-memory broker each'}` : ''}`);
    const connectStart = Date.now();
    await subscribe({ stack, nodes }, clients, counts, CHANNEL);
    const connectS = (Date.now() - connectStart) / 1000;
    log(`${stack}: all open in ${connectS.toFixed(1)} s`);
    const held = await Promise.all(servers.map(async (s) => (await s.call<Usage>('usage')).connections ?? 0));
    if (sum(held) !== SESSIONS) throw new Error(`the servers hold ${held.join(' + ')} connections, not ${SESSIONS}`);

    await delay(SETTLE_MS);
    await context.waitQuiet();
    log(`${stack}: idle for ${IDLE_MS / 1000} s (load ${loadavg().map((l) => l.toFixed(2)).join(' ')})`);
    await Promise.all(servers.map((s) => s.call('loopReset')));
    const clientChildren: Child[] = clients.map((c) => c.child);
    const profiled = values.profile ? nodes[0] : undefined;
    if (profiled) await profiled.child.call('profileStart', { intervalUs: 1000 });
    const before = { server: await cpuOf(servers), client: await cpuOf(clientChildren), redis: redis ? await redis.read() : NaN, at: performance.now() };
    const health = await probeHealth(nodes, Date.now() + IDLE_MS);
    const elapsedMs = performance.now() - before.at;
    const serverCpuMs = (await cpuOf(servers)) - before.server;
    const clientCpuMs = (await cpuOf(clientChildren)) - before.client;
    const redisCpuMs = redis ? (await redis.read()) - before.redis : NaN;
    if (profiled) {
      const file = join(options.outDir, 'profiles', `many-sessions-${stack}-${broker}-${process.pid}.cpuprofile`);
      await profiled.child.call('profileStop', { file }, 60_000);
      await printProfile(file, ((counts[0] ?? 1) * elapsedMs) / 1000, 'session·s');
    }
    const loops = await Promise.all(servers.map((s) => s.call<{ p99Ms: number; maxMs: number; gcMaxMs: number }>('loopReport')));
    const open = await Promise.all(servers.map(async (s) => (await s.call<Usage>('usage')).connections ?? 0));
    const lostSessions = SESSIONS - sum(open);

    const after = await gcOf(nodes);
    const redisAfter = redis ? await redis.memory() : NaN;
    // One event to every session: through Redis from the first node, or from every node to its own.
    await Promise.all(clientChildren.map((c) => c.call('arm', { messages: 1 })));
    const done = Promise.all(clientChildren.map((c) => c.call<{ lastAt: number }>('done', { timeoutMs: 60_000 }, 65_000)));
    const publishers = shared ? nodes.slice(0, 1) : nodes;
    const sent = await Promise.all(publishers.map((n) => n.child.call<{ at: number }>('publishOne', { seq: 1, bodySize: 100 })));
    const publishAllMs = max((await done).map((d) => d.lastAt)) - Math.min(...sent.map((s) => s.at));
    log(`${stack}: the event reached all ${(SESSIONS - lostSessions).toLocaleString('en-US')} open sessions in ${publishAllMs.toFixed(0)} ms`);

    const grown = (pick: (u: Usage) => number): number => sum(after.map((a, i) => pick(a) - pick(base[i] as Usage)));
    return {
      nodes: nodeCount,
      connectS,
      rssPerSessionKB: grown((u) => u.rss) / SESSIONS / 1024,
      rssSettledPerSessionKB: grown((u) => u.rss - (u.young ?? 0)) / SESSIONS / 1024,
      heapPerSessionKB: grown((u) => u.heapUsed) / SESSIONS / 1024,
      rssMB: sum(after.map((a) => a.rss)) / 2 ** 20,
      ...(redis ? { redisPerSessionKB: (redisAfter - redisBase) / SESSIONS / 1024, redisIdleCpuPct: (100 * redisCpuMs) / elapsedMs } : {}),
      idleCpuPct: (100 * serverCpuMs) / elapsedMs,
      idleCpuUsPerSessionS: (serverCpuMs * 1000) / SESSIONS / (elapsedMs / 1000),
      clientIdleCpuPct: (100 * clientCpuMs) / elapsedMs,
      loopP99Ms: max(loops.map((l) => l.p99Ms)),
      loopMaxMs: max(loops.map((l) => l.maxMs)),
      gcMaxMs: max(loops.map((l) => l.gcMaxMs)),
      healthP99Ms: percentile(health.times, 99),
      healthMaxMs: max(health.times),
      healthFailed: health.failed,
      lostSessions,
      publishAllMs,
    };
  } finally {
    redis?.close();
    await context.dispose();
    if (shared) await dropKeys(REDIS_URL, prefix).catch(() => undefined);
  }
}

async function main(): Promise<void> {
  const options = parseOptions([], 'bench/results');
  if (options === 'help') return;
  const redisUp = await redisAnswers(REDIS_URL);
  const broker = values.broker === 'memory' ? 'memory' : values.broker === 'redis' || redisUp ? 'redis' : 'memory';
  if (broker === 'redis' && !redisUp) throw new Error(`--broker redis, but no Redis answers at ${REDIS_URL}`);
  const about = machine();
  log(`machine: ${JSON.stringify(about)}`);
  log(`open files per process: ${JSON.stringify(limit)}; ${PER_NODE.toLocaleString('en-US')} sessions per node at most; load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const bundle = await bundleChildren();
  const entry: ScenarioResult = {
    title: `${SESSIONS.toLocaleString('en-US')} idle sessions, ${IDLE_MS / 1000} s idle (Lifeline: ${broker === 'redis' ? 'nodes sharing Redis' : 'in-memory broker per node'})`,
    params: { sessions: SESSIONS, idleSeconds: IDLE_MS / 1000, perNode: PER_NODE, broker, channel: CHANNEL },
    metrics: METRICS,
    stacks: {},
  };
  const started = Date.now();
  let single: Record<string, unknown> | undefined;
  try {
    if (!values['no-one-node'] && SESSIONS > PER_NODE && STACKS.includes('lifeline')) single = await oneNode(options, bundle);
    for (const stack of STACKS) {
      const runStarted = Date.now();
      try {
        const metrics = await measure(options, bundle, stack, broker);
        entry.stacks[stack] = { rounds: [{ round: 1, metrics, quiet: [], wallMs: Date.now() - runStarted }], median: metrics };
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        log(`${stack}: FAILED: ${message}`);
        entry.stacks[stack] = { rounds: [{ round: 1, error: message, quiet: [], wallMs: Date.now() - runStarted }], median: {} };
      }
    }
  } finally {
    bundle.remove();
    killAll();
  }
  console.log(`\n${formatScenario('many-sessions', entry)}`);
  if (single) console.log(`one node, ${formatNumber(Number(single.attempted))} attempted: ${JSON.stringify(single)}`);
  console.log(`${((Date.now() - started) / 1000).toFixed(0)} s in all; load at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  if (values.out !== undefined) writeFileSync(values.out, `${JSON.stringify({ machine: about, git: sourceState(), oneNode: single, ...entry }, null, 2)}\n`);
  if (Object.values(entry.stacks).some((s) => s.rounds.some((r) => r.error !== undefined))) process.exitCode = 1;
}

// Bounded: connecting, two settles, the idle window and the publish per stack, with room to spare.
const deadline = setTimeout(
  () => {
    console.error('many-sessions: out of time; stopping');
    killAll();
    process.exit(1);
  },
  10 * 60_000 + STACKS.length * (IDLE_MS + SESSIONS * 10),
);
deadline.unref();
main().then(
  () => process.exit(process.exitCode ?? 0),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    killAll();
    process.exit(1);
  },
);
