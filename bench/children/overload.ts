// The overload scenario's processes, one command set, three roles (one process each):
// `listen` runs a Lifeline server with a request method and the limits under test (and, for the
// floor, a plain TCP server beside it that answers every connection with a fixed 503);
// `steady` connects lifeline.v1 clients that each send a request at a fixed pace and time every
// round trip; `flood` opens raw handshakes at a fixed rate or as fast as a bounded number in
// flight allows; those accepted say hello and are held (a crowd that stays, each with its
// session) until it ends. `place` pins a process to CPUs and sets its priority.
import { execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { connect, createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { setPriority } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { createServer, type LifelineServer } from '../../src/server/index.js';
import { nowMs, numberArg, optionalNumber, optionalString, serve, usage, type Handlers } from '../process/rpc.js';
import { openLean } from '../wire/dialect.js';
import { clientText, Opcode } from '../wire/frame.js';
import type { LeanSocket } from '../wire/lean-socket.js';

let server: LifelineServer | undefined;
let plain: TcpServer | undefined;

/**
 * Pins this process (every thread of it) to `cpus` (`taskset -c` syntax) and sets the nice
 * value of every thread (Linux's nice is per thread).
 */
function place(args: Record<string, unknown>): { cpus: string | undefined; nice: number | undefined } {
  const cpus = optionalString(args, 'cpus');
  const nice = optionalNumber(args, 'nice');
  if (cpus !== undefined) execFileSync('taskset', ['-a', '-p', '-c', cpus, String(process.pid)], { stdio: 'ignore' });
  if (nice !== undefined) for (const thread of readdirSync('/proc/self/task')) setPriority(Number(thread), nice);
  return { cpus, nice };
}

/** The response of the floor's plain TCP server: what a refusal is, with nothing before it. */
const PLAIN_REFUSAL = Buffer.from(
  'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 13\r\nRetry-After: 1\r\n\r\nnot answered\n',
);

/** The floor: a plain TCP server that reads a request's head, answers it with a fixed 503 and closes. */
async function listenPlain(): Promise<{ plainPort: number }> {
  plain = createTcpServer((socket) => {
    socket.on('error', () => undefined);
    let head = '';
    socket.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.removeAllListeners('data');
      socket.end(PLAIN_REFUSAL);
    });
  });
  await new Promise<void>((resolve) => plain?.listen(0, '127.0.0.1', resolve));
  const address = plain.address();
  if (address === null || typeof address === 'string') throw new Error('the plain server has no port');
  return { plainPort: address.port };
}

async function listen(args: Record<string, unknown>): Promise<{ port: number; plainPort?: number }> {
  const admissionRate = optionalNumber(args, 'admissionRate');
  const maxConnections = optionalNumber(args, 'maxConnections');
  server = createServer({
    port: 0,
    logger: pino({ level: 'error' }),
    ...(admissionRate === undefined ? {} : { admissionRate }),
    ...(maxConnections === undefined ? {} : { maxConnections }),
  });
  server.handle('echo', (params) => params);
  const { port } = await server.listen();
  return args.plain === true ? { port, ...(await listenPlain()) } : { port };
}

// ---- steady clients: paced requests, every round trip timed ----------------------------------

interface Sample {
  readonly sentAt: number;
  readonly rttMs: number;
}

const steady: { sockets: LeanSocket[]; samples: Sample[]; unanswered: Map<number, number>; running: boolean; loops: Promise<void>[] } = {
  sockets: [],
  samples: [],
  unanswered: new Map(),
  running: false,
  loops: [],
};

async function startSteady(args: Record<string, unknown>): Promise<{ connected: number }> {
  const port = numberArg(args, 'port');
  const count = numberArg(args, 'clients');
  const intervalMs = numberArg(args, 'intervalMs');
  let nextId = 1;
  for (let i = 0; i < count; i++) {
    const socket = await openLean('lifeline', port, { timeoutMs: 10_000 });
    socket.listen((opcode, payload) => {
      if (opcode !== Opcode.TEXT) return;
      const reply = JSON.parse(payload.toString('utf8')) as { type?: string; id?: number };
      if (reply.type !== 'result' || typeof reply.id !== 'number') return;
      const sentAt = steady.unanswered.get(reply.id);
      if (sentAt === undefined) return;
      steady.unanswered.delete(reply.id);
      steady.samples.push({ sentAt, rttMs: nowMs() - sentAt });
    });
    steady.sockets.push(socket);
  }
  steady.running = true;
  steady.loops = steady.sockets.map(async (socket, i) => {
    await sleep((intervalMs * i) / count); // spread the clients over the interval
    while (steady.running && !socket.closed) {
      const id = nextId++;
      steady.unanswered.set(id, nowMs());
      socket.sendText(JSON.stringify({ type: 'request', id, method: 'echo', params: { id } }));
      await sleep(intervalMs);
    }
  });
  return { connected: steady.sockets.length };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** Stops the requests, waits (bounded) for the last replies, and gives the round trips of each window. */
async function stopSteady(args: Record<string, unknown>): Promise<unknown> {
  steady.running = false;
  await Promise.all(steady.loops);
  const deadline = nowMs() + numberArg(args, 'drainMs');
  while (steady.unanswered.size > 0 && nowMs() < deadline) await sleep(20);
  const windows = (args.windows ?? []) as { from: number; to: number }[];
  const stats = windows.map(({ from, to }) => {
    const rtts = steady.samples.filter((s) => s.sentAt >= from && s.sentAt < to).map((s) => s.rttMs);
    rtts.sort((a, b) => a - b);
    return { count: rtts.length, p50: percentile(rtts, 50), p99: percentile(rtts, 99), max: rtts.at(-1) ?? NaN };
  });
  const closed = steady.sockets.filter((s) => s.closed).length;
  for (const socket of steady.sockets) socket.destroy();
  return { windows: stats, unanswered: steady.unanswered.size, closed };
}

// ---- the flood: raw handshakes ---------------------------------------------------------------

/**
 * One handshake: the response's status (`error`, `timeout` when there was none). An accepted
 * socket says hello and counts once the welcome arrives (a client that stays, with its session);
 * it is kept in `held`.
 */
function handshake(port: number, localAddress: string, held: Socket[], timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    let head = '';
    let finished = false;
    let upgraded = false;
    const done = (status: string): void => {
      if (finished) return;
      finished = true;
      socket.removeAllListeners('data');
      socket.setTimeout(0);
      if (status === '101') held.push(socket);
      else socket.destroy();
      resolve(status);
    };
    socket.setTimeout(timeoutMs, () => done('timeout'));
    socket.once('error', () => done('error'));
    socket.once('close', () => done(upgraded ? 'closed after 101' : 'closed'));
    socket.once('connect', () => {
      socket.write(
        `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: lifeline.v1\r\n\r\n`,
      );
    });
    socket.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (upgraded) {
        if (head.includes('"type":"welcome"')) done('101');
        return;
      }
      const match = /^HTTP\/1\.1 (\d{3})/.exec(head);
      const end = head.indexOf('\r\n\r\n');
      if (!match || end === -1) return;
      const status = match[1] ?? '';
      if (status !== '101') return done(status === '503' && !/\r\nretry-after: *\d+\r\n/i.test(head) ? '503 without Retry-After' : status);
      upgraded = true;
      head = head.slice(end + 4);
      socket.write(clientText('{"type":"hello","v":1}'));
    });
  });
}

/**
 * Opens handshakes for `durationMs`: with `rate` (per second), started on that schedule (one
 * that would exceed `concurrency` in flight is skipped and counted as `missed`, so the achieved
 * rate shows); without it, as fast as `concurrency` in flight allows.
 */
async function flood(args: Record<string, unknown>): Promise<unknown> {
  const port = numberArg(args, 'port');
  const durationMs = numberArg(args, 'durationMs');
  const concurrency = numberArg(args, 'concurrency');
  const maxAttempts = numberArg(args, 'maxAttempts');
  const rate = optionalNumber(args, 'rate') ?? 0;
  // Source addresses over 127.1.0.0/16, so the flood never runs out of ports in TIME_WAIT.
  const base = randomInt(200);
  const held: Socket[] = [];
  const statuses: Record<string, number> = {};
  let attempts = 0;
  let missed = 0;
  const startedAt = nowMs();
  let endedAt: number;
  const end = startedAt + durationMs;
  const one = async (): Promise<void> => {
    const n = attempts++;
    const status = await handshake(port, `127.1.${base + (n % 50)}.${1 + (Math.floor(n / 50) % 254)}`, held, 5000);
    statuses[status] = (statuses[status] ?? 0) + 1;
  };
  if (rate > 0) {
    const running = new Set<Promise<void>>();
    for (let now = nowMs(); now < end && attempts + missed < maxAttempts; now = nowMs()) {
      const due = Math.floor(((now - startedAt) * rate) / 1000) - attempts - missed;
      for (let i = 0; i < due; i++) {
        if (running.size >= concurrency) {
          missed += due - i;
          break;
        }
        const started = one().finally(() => running.delete(started));
        running.add(started);
      }
      await sleep(1);
    }
    endedAt = nowMs(); // the schedule's end: the stragglers' answers are not the flood
    await Promise.all(running);
  } else {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (nowMs() < end && attempts < maxAttempts) await one();
      }),
    );
    endedAt = nowMs();
  }
  for (const socket of held) socket.destroy();
  return { attempts, missed, statuses, startedAt, endedAt };
}

/** This process's CPU time so far, user and kernel apart, ms. */
function cpu(): { userMs: number; systemMs: number } {
  const { user, system } = process.cpuUsage();
  return { userMs: user / 1000, systemMs: system / 1000 };
}

const handlers: Handlers = {
  place,
  cpu,
  listen,
  startSteady,
  stopSteady,
  flood,
  usage: () => ({ ...usage(), connections: server?.connections.size ?? 0 }),
};

serve(handlers);
