// Lean clients, many per process: `node client.js`. They connect, join the fan-out channel and
// count events; they run the echo round trips and the catch-up replays. Each one costs its
// process little, so the server is what a measurement measures.
import { dialectOf, openLean, type Stack } from '../wire/dialect.js';
import { clientText, Opcode, startsWith } from '../wire/frame.js';
import type { LeanSocket } from '../wire/lean-socket.js';
import { DeliveryLog, type DeliveryTrack } from './delivery-log.js';
import { requestLatency, requestThroughput } from './request-client.js';
import { nowMs, numberArg, optionalString, serve, stringArg, usage, type Handlers } from '../process/rpc.js';

interface Subscriber extends DeliveryTrack {
  readonly socket: LeanSocket;
  count: number;
  target: number;
}

const subscribers: Subscriber[] = [];

function stackArg(args: Record<string, unknown>): Stack {
  const stack = stringArg(args, 'stack');
  if (stack === 'lifeline' || stack === 'ws' || stack === 'socketio' || stack === 'floor') return stack;
  throw new Error(`unknown stack "${stack}"`);
}

/** Runs `task` for indexes 0..count-1 with at most `concurrency` at a time. */
async function pool(count: number, concurrency: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, worker));
}

// ---- fan-out: counting events ------------------------------------------------------------------

let armed: { remaining: number; lastAt: number; settle: (() => void) | undefined; done: Promise<void> } | undefined;

function reached(): void {
  if (!armed) return;
  armed.lastAt = nowMs();
  if (--armed.remaining === 0) armed.settle?.();
}

async function connectAll(args: Record<string, unknown>): Promise<unknown> {
  const stack = stackArg(args);
  const port = numberArg(args, 'port');
  const count = numberArg(args, 'count');
  const timeoutMs = numberArg(args, 'timeoutMs');
  const join = optionalString(args, 'join');
  const localAddress = optionalString(args, 'localAddress');
  const dialect = dialectOf(stack);
  const errors: string[] = [];
  let failed = 0;
  const startedAt = nowMs();
  await pool(count, numberArg(args, 'concurrency'), async () => {
    try {
      const socket = await openLean(stack, port, { timeoutMs, localAddress, join });
      const subscriber: Subscriber = { socket, count: 0, target: -1, last: 0 };
      const prefix = dialect.eventPrefix;
      socket.listen((opcode, payload) => {
        if (opcode !== Opcode.TEXT || !startsWith(payload, prefix)) return;
        if (steady) steady.record(subscriber, payload, nowMs());
        if (++subscriber.count === subscriber.target) reached();
      });
      subscribers.push(subscriber);
    } catch (error) {
      failed++;
      if (errors.length < 3) errors.push(error instanceof Error ? error.message : String(error));
    }
  });
  return { connected: subscribers.length, failed, errors, startedAt, endedAt: nowMs() };
}

function arm(args: Record<string, unknown>): void {
  const messages = numberArg(args, 'messages');
  let settle: (() => void) | undefined;
  const done = new Promise<void>((resolve) => (settle = resolve));
  armed = { remaining: subscribers.length, lastAt: 0, settle, done };
  for (const subscriber of subscribers) subscriber.target = subscriber.count + messages;
  if (subscribers.length === 0) settle?.();
}

async function done(args: Record<string, unknown>): Promise<unknown> {
  const current = armed;
  if (!current) throw new Error('not armed');
  const timeoutMs = numberArg(args, 'timeoutMs');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
  const outcome = await Promise.race([current.done.then(() => 'done' as const), timedOut]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    const closed = subscribers.filter((s) => s.socket.closed).length;
    throw new Error(`${current.remaining} of ${subscribers.length} subscribers short of their events after ${timeoutMs} ms (${closed} closed)`);
  }
  return { lastAt: current.lastAt };
}

// ---- sustained fan-out: order and latency of every delivery ------------------------------------

let steady: DeliveryLog | undefined;

/** Starts a step whose first event is `fromSeq`: every subscriber expects it next. */
function steadyStart(args: Record<string, unknown>): void {
  const fromSeq = numberArg(args, 'fromSeq');
  (steady ??= new DeliveryLog()).reset();
  for (const subscriber of subscribers) subscriber.last = fromSeq - 1;
}

function steadyReport(): unknown {
  if (!steady) throw new Error('steadyStart first');
  return { ...steady.report(), closed: subscribers.filter((s) => s.socket.closed).length };
}

// ---- echo --------------------------------------------------------------------------------------

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** One client, one message in flight: the round trip time, µs. */
async function echoLatency(args: Record<string, unknown>): Promise<unknown> {
  const stack = stackArg(args);
  const warmup = numberArg(args, 'warmup');
  const samples = numberArg(args, 'samples');
  const dialect = dialectOf(stack, false);
  const socket = await openLean(stack, numberArg(args, 'port'), { channels: false, timeoutMs: 10_000, localAddress: optionalString(args, 'localAddress') });
  const frame = clientText(dialect.echo('x'.repeat(numberArg(args, 'bodySize'))));
  const times: number[] = [];
  await new Promise<void>((resolve, reject) => {
    let sent = 0n;
    let round = 0;
    socket.onClose = () => reject(new Error('the echo socket closed'));
    socket.listen((opcode, payload) => {
      if (opcode !== Opcode.TEXT || !startsWith(payload, dialect.echoPrefix)) return;
      if (round++ >= warmup) times.push(Number(process.hrtime.bigint() - sent) / 1000);
      if (round >= warmup + samples) return resolve();
      sent = process.hrtime.bigint();
      socket.write(frame);
    });
    sent = process.hrtime.bigint();
    socket.write(frame);
  });
  socket.onClose = () => undefined;
  socket.destroy();
  const sorted = times.sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), mean: sorted.reduce((a, b) => a + b, 0) / sorted.length, samples: sorted.length };
}

/** `clients` connections with `inflight` messages each always outstanding: echoes per second. */
async function echoThroughput(args: Record<string, unknown>): Promise<unknown> {
  const stack = stackArg(args);
  const port = numberArg(args, 'port');
  const inflight = numberArg(args, 'inflight');
  const warmupMs = numberArg(args, 'warmupMs');
  const durationMs = numberArg(args, 'durationMs');
  const localAddress = optionalString(args, 'localAddress');
  const dialect = dialectOf(stack, false);
  const frame = clientText(dialect.echo('x'.repeat(numberArg(args, 'bodySize'))));
  const sockets: LeanSocket[] = [];
  await pool(numberArg(args, 'clients'), 20, async () => {
    sockets.push(await openLean(stack, port, { channels: false, timeoutMs: 10_000, localAddress }));
  });
  let counting = false;
  let echoes = 0;
  let closed = 0;
  for (const socket of sockets) {
    socket.onClose = () => closed++;
    socket.listen((opcode, payload) => {
      if (opcode !== Opcode.TEXT || !startsWith(payload, dialect.echoPrefix)) return;
      if (counting) echoes++;
      socket.write(frame);
    });
  }
  const burst = Buffer.concat(Array.from({ length: inflight }, () => frame));
  for (const socket of sockets) socket.write(burst);
  await new Promise((resolve) => setTimeout(resolve, warmupMs));
  counting = true;
  const startedAt = nowMs();
  await new Promise((resolve) => setTimeout(resolve, durationMs));
  counting = false;
  const seconds = (nowMs() - startedAt) / 1000;
  for (const socket of sockets) {
    socket.onClose = () => undefined;
    socket.destroy();
  }
  if (closed > 0) throw new Error(`${closed} echo connections closed during the run`);
  return { echoes, seconds, rate: echoes / seconds };
}

// ---- catch-up ----------------------------------------------------------------------------------

/** A client that missed `events` events asks for them: time until the last one, and (Lifeline) until `subscribed`, ms. */
async function catchup(args: Record<string, unknown>): Promise<unknown> {
  const stack = stackArg(args);
  const events = numberArg(args, 'events');
  const repeats = numberArg(args, 'repeats');
  const epoch = stringArg(args, 'epoch');
  const dialect = dialectOf(stack);
  const lastMs: number[] = [];
  const subscribedMs: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const socket = await openLean(stack, numberArg(args, 'port'), { timeoutMs: 10_000, localAddress: optionalString(args, 'localAddress') });
    const result = await new Promise<{ last: number; subscribed: number }>((resolve, reject) => {
      let received = 0;
      let last = 0;
      const timer = setTimeout(() => reject(new Error(`catch-up: ${received} of ${events} events after 10 s`)), 10_000);
      const startedAt = nowMs();
      const finish = (subscribedAt: number): void => {
        clearTimeout(timer);
        resolve({ last: last - startedAt, subscribed: subscribedAt - startedAt });
      };
      socket.listen((opcode, payload) => {
        if (opcode !== Opcode.TEXT) return;
        if (startsWith(payload, dialect.eventPrefix)) {
          if (++received === events) {
            last = nowMs();
            if (stack !== 'lifeline') finish(last);
          }
        } else if (stack === 'lifeline' && payload.toString('utf8').startsWith('{"type":"subscribed"')) {
          if (received !== events) return reject(new Error(`subscribed after ${received} of ${events} events`));
          finish(nowMs());
        }
      });
      if (stack === 'lifeline') socket.sendText(JSON.stringify({ type: 'subscribe', id: 1, channel: 'bench:catchup', since: { epoch, offset: 0 } }));
      else if (stack === 'socketio') socket.sendText(`42${JSON.stringify(['replay', 0])}`);
      else socket.sendText(JSON.stringify({ type: 'replay', since: 0 }));
    });
    socket.destroy();
    lastMs.push(result.last);
    subscribedMs.push(result.subscribed);
  }
  return { lastMs, subscribedMs };
}

const handlers: Handlers = {
  connect: connectAll,
  arm,
  done,
  echoLatency,
  echoThroughput,
  requestLatency,
  requestThroughput,
  catchup,
  steadyStart,
  steadyProgress: () => ({ received: steady?.received ?? 0 }),
  steadyReport,
  usage: () => ({ ...usage(), open: subscribers.filter((s) => !s.socket.closed).length }),
  closeAll() {
    for (const subscriber of subscribers.splice(0)) subscriber.socket.destroy();
  },
};

serve(handlers);
