// What published events cost Redis with the Redis broker, and what that cost depends on. A
// Lifeline server from the sources (in this process, with its clients) uses a redis-server of its
// own (a free port, no persistence, killed on every path), so nothing else's commands are
// counted. For each case and rate:
//   fanout  N sessions, all subscribed to the published channel (every event reaches N);
//   apart   N sessions subscribed to another channel, one also to the published one (reaches 1).
// Events are published for --seconds at each of --rates events/s (`max`: back to back, each
// publish awaited), and Redis's CPU time (`INFO cpu`) is read before and after: its CPU per
// second and per event. A MONITOR of a few events first counts the commands Redis runs per event
// (inside the publish script too).
//
//   node --import tsx bench/redis-per-event.ts [--sessions 10,1000] [--rates 20,100,400,max]
//                                             [--seconds 5] [--rounds 1] [--redis-cpu N]
//
// --redis-cpu N  runs redis-server on CPU N only (`taskset`); pin this process elsewhere with
//                `taskset -c M node ...` to see what sharing a CPU with the node costs Redis.
import { spawn, type ChildProcess } from 'node:child_process';
import { pino } from 'pino';
import WebSocket from 'ws';
import { createClient } from '@redis/client';
import { createServer, type LifelineServer } from '../src/server/index.js';
import { RedisBroker } from '../src/redis/index.js';
import { freePort } from './serve/serve-process.js';
import { median } from './stats.js';

const PUBLISHED = 'bench:published';
const OTHER = 'bench:other';

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index > 0 ? (process.argv[index + 1] ?? fallback) : fallback;
}

const sessionCounts = option('sessions', '10,1000').split(',').map(Number);
const rates = option('rates', '20,100,400,max').split(',');
const seconds = Number(option('seconds', '5'));
const rounds = Number(option('rounds', '1'));
const redisCpu = option('redis-cpu', '');

type Case = 'fanout' | 'apart';

async function startRedis(): Promise<{ readonly url: string; readonly child: ChildProcess }> {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const child = redisCpu ? spawn('taskset', ['-c', redisCpu, 'redis-server', ...args], { stdio: 'ignore' }) : spawn('redis-server', args, { stdio: 'ignore' });
  process.on('exit', () => child.kill('SIGKILL'));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));
  const url = `redis://127.0.0.1:${port}`;
  const probe = createClient({ url });
  probe.on('error', () => undefined);
  for (let attempt = 0; ; attempt++) {
    try {
      await probe.connect();
      break;
    } catch (error) {
      if (attempt >= 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  await probe.quit();
  return { url, child };
}

/** Opens `count` sessions (hello, subscribe) and counts the events they receive. */
async function openSessions(port: number, count: number, which: Case): Promise<{ readonly sockets: WebSocket[]; received(): number }> {
  let received = 0;
  const sockets: WebSocket[] = [];
  for (let i = 0; i < count; i++) {
    const channels = which === 'fanout' ? [PUBLISHED] : i === 0 ? [OTHER, PUBLISHED] : [OTHER];
    const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`, 'lifeline.v1');
    sockets.push(socket);
    await new Promise<void>((resolve, reject) => {
      let subscribed = 0;
      const timer = setTimeout(() => reject(new Error(`session ${i} not subscribed within 10 s`)), 10_000);
      socket.on('error', reject);
      socket.on('open', () => {
        socket.send('{"type":"hello","v":1}');
        channels.forEach((channel, n) => socket.send(JSON.stringify({ type: 'subscribe', id: n + 1, channel })));
      });
      socket.on('message', (data) => {
        const text = String(data);
        if (text.startsWith('{"type":"event"')) received++;
        else if (text.startsWith('{"type":"subscribed"') && ++subscribed === channels.length) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }
  return { sockets, received: () => received };
}

interface CaseResult {
  /** Events published in the window, per second. */
  readonly eventsPerSecond: number;
  /** Redis's CPU, ms per second of the window: all of it, and the part in user space (its own code). */
  readonly cpuMsPerSecond: number;
  readonly userMsPerSecond: number;
  readonly commands?: number;
}

async function measureCase(url: string, prefix: string, sessions: number, which: Case, rate: string, countCommands: boolean): Promise<CaseResult> {
  const info = createClient({ url });
  await info.connect();
  const cpu = async (): Promise<{ readonly all: number; readonly user: number }> => {
    const text = await info.info('cpu');
    const field = (name: string): number => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(text)?.[1] ?? NaN) * 1000;
    return { all: field('used_cpu_user') + field('used_cpu_sys'), user: field('used_cpu_user') };
  };
  const broker = await RedisBroker.connect({ url, prefix });
  let server: LifelineServer | undefined;
  let sockets: WebSocket[] = [];
  try {
    server = createServer({ port: 0, host: '127.0.0.1', channels: { bench: { history: { size: 1000, ttl: 60_000 } } }, logger: pino({ level: 'error' }), broker, pingInterval: 0 });
    const { port } = await server.listen();
    const opened = await openSessions(port, sessions, which);
    sockets = opened.sockets;
    const reached = which === 'fanout' ? sessions : 1;
    let sent = 0;
    /** Waits until every event published so far has reached its receivers. */
    const delivered = async (): Promise<void> => {
      const expected = sent * reached;
      const deadline = Date.now() + 60_000;
      while (opened.received() < expected) {
        if (Date.now() > deadline) throw new Error(`${expected - opened.received()} deliveries missing after 60 s`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    const publishOne = async (): Promise<void> => {
      await (server as LifelineServer).publish(PUBLISHED, { sent });
      sent++;
    };
    let commands: number | undefined;
    if (countCommands) {
      const monitor = createClient({ url });
      await monitor.connect();
      let seen = 0;
      await monitor.monitor(() => seen++);
      const probe = 5;
      for (let i = 0; i < probe; i++) await publishOne();
      await delivered();
      monitor.destroy();
      commands = seen / probe;
    }
    const perSecond = rate === 'max' ? Infinity : Number(rate);
    const first = sent;
    const before = await cpu();
    const started = Date.now();
    // Bounded by the window: each pass publishes what is due (max: one), then yields.
    while (Date.now() - started < seconds * 1000) {
      const due = perSecond === Infinity ? sent + 1 : first + Math.floor(((Date.now() - started) / 1000) * perSecond);
      while (sent < due) await publishOne();
      if (perSecond !== Infinity) await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const after = await cpu();
    const elapsed = (Date.now() - started) / 1000;
    await delivered();
    return {
      eventsPerSecond: (sent - first) / elapsed,
      cpuMsPerSecond: (after.all - before.all) / elapsed,
      userMsPerSecond: (after.user - before.user) / elapsed,
      ...(commands === undefined ? {} : { commands }),
    };
  } finally {
    for (const socket of sockets) socket.terminate();
    await server?.close();
    await broker.close();
    await info.quit();
  }
}

const { url, child } = await startRedis();
try {
  const results = new Map<string, { events: number[]; cpu: number[]; user: number[]; commands?: number }>();
  for (let round = 0; round < rounds; round++) {
    for (const sessions of sessionCounts) {
      for (const which of ['fanout', 'apart'] as const) {
        for (const rate of rates) {
          const key = `${which} ${sessions} ${rate}`;
          const result = await measureCase(url, `b${round}${which}${sessions}${rate}`, sessions, which, rate, round === 0 && rate === rates[0]);
          const entry = results.get(key) ?? { events: [], cpu: [], user: [] };
          entry.events.push(result.eventsPerSecond);
          entry.cpu.push(result.cpuMsPerSecond);
          entry.user.push(result.userMsPerSecond);
          if (result.commands !== undefined) entry.commands = result.commands;
          results.set(key, entry);
          console.log(`round ${round + 1}: ${key}: ${result.eventsPerSecond.toFixed(0)} events/s, Redis ${result.cpuMsPerSecond.toFixed(1)} ms/s (${result.userMsPerSecond.toFixed(1)} in user space)`);
        }
      }
    }
  }
  console.log(`\n| case | sessions | receivers per event | events/s | Redis CPU, ms/s | per event, µs | of it in user space, µs | commands per event |`);
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  const commands = new Map<string, number>();
  for (const [key, entry] of results) if (entry.commands !== undefined) commands.set(key.split(' ').slice(0, 2).join(' '), entry.commands);
  for (const [key, entry] of results) {
    const [which = '', sessions = ''] = key.split(' ');
    const events = median(entry.events);
    const perEvent = (ms: number): string => (events > 0 ? ((ms * 1000) / events).toFixed(0) : '');
    console.log(`| ${which} | ${sessions} | ${which === 'fanout' ? sessions : 1} | ${events.toFixed(0)} | ${median(entry.cpu).toFixed(1)} | ${perEvent(median(entry.cpu))} | ${perEvent(median(entry.user))} | ${commands.get(`${which} ${sessions}`)?.toFixed(1) ?? ''} |`);
  }
} finally {
  child.kill('SIGKILL');
}
process.exit(0);
