// Requests answered by the server, each stack's way, spoken by hand over lean sockets: Lifeline's
// `lifeline.v1` `request` (answered by `result`) and `publish` (answered by `ack`) after the hello,
// a raw ws JSON echo, and Socket.IO's acknowledged event (`42<id>[...]` answered by `43<id>[...]`).
// Every message carries its own increasing id, so every stack's client builds each frame anew.
import { dialectOf, openLean } from '../wire/dialect.js';
import { clientText, Opcode, startsWith } from '../wire/frame.js';
import type { LeanSocket } from '../wire/lean-socket.js';
import { nowMs, numberArg, optionalString, stringArg } from '../process/rpc.js';

/** What is asked: a Lifeline request or publish, or the baselines' echo. */
export type RequestKind = 'request' | 'publish' | 'ws' | 'socketio';

export interface RequestDialect {
  readonly stack: 'lifeline' | 'ws' | 'socketio';
  readonly channels: boolean;
  frame(id: number, body: string): Buffer;
  readonly replyPrefix: Buffer;
}

/** The channel Lifeline's acknowledged publishes go to (no subscribers: the ack is what is timed). */
const PUBLISH_CHANNEL = 'bench:requests';

const DIALECTS: Readonly<Record<RequestKind, RequestDialect>> = {
  request: {
    stack: 'lifeline',
    channels: true,
    frame: (id, body) => clientText(`{"type":"request","id":${id},"method":"echo","params":{"body":"${body}"}}`),
    replyPrefix: Buffer.from('{"type":"result"'),
  },
  publish: {
    stack: 'lifeline',
    channels: true,
    frame: (id, body) => clientText(`{"type":"publish","id":${id},"channel":"${PUBLISH_CHANNEL}","data":{"body":"${body}"}}`),
    replyPrefix: Buffer.from('{"type":"ack"'),
  },
  ws: {
    stack: 'ws',
    channels: false,
    frame: (id, body) => clientText(`{"type":"echo","id":${id},"body":"${body}"}`),
    replyPrefix: dialectOf('ws').echoPrefix,
  },
  socketio: {
    stack: 'socketio',
    channels: false,
    frame: (id, body) => clientText(`42${id}["echoAck",{"body":"${body}"}]`),
    replyPrefix: Buffer.from('43'),
  },
};

/** What a client of `kind` sends and what answers it. */
export function requestDialect(kind: RequestKind): RequestDialect {
  return DIALECTS[kind];
}

function kindArg(args: Record<string, unknown>): RequestKind {
  const kind = stringArg(args, 'kind');
  if (kind === 'request' || kind === 'publish' || kind === 'ws' || kind === 'socketio') return kind;
  throw new Error(`unknown request kind "${kind}"`);
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function summary(times: number[]): { p50: number; p99: number; max: number; samples: number } {
  const sorted = times.sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? NaN, samples: sorted.length };
}

function open(dialect: RequestDialect, args: Record<string, unknown>): Promise<LeanSocket> {
  return openLean(dialect.stack, numberArg(args, 'port'), { channels: dialect.channels, timeoutMs: 10_000, localAddress: optionalString(args, 'localAddress') });
}

/** Microseconds since `start` (a `process.hrtime.bigint()`). */
function since(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1000;
}

/** One client, one request in flight: the round trip, µs (p50, p99, max). */
export async function requestLatency(args: Record<string, unknown>): Promise<unknown> {
  const dialect = DIALECTS[kindArg(args)];
  const warmup = numberArg(args, 'warmup');
  const samples = numberArg(args, 'samples');
  const body = 'x'.repeat(numberArg(args, 'bodySize'));
  const socket = await open(dialect, args);
  const times: number[] = [];
  await new Promise<void>((resolve, reject) => {
    let id = 0;
    let sent = 0n;
    const send = (): void => {
      const frame = dialect.frame(++id, body);
      sent = process.hrtime.bigint();
      socket.write(frame);
    };
    socket.onClose = () => reject(new Error('the request socket closed'));
    socket.listen((opcode, payload) => {
      if (opcode !== Opcode.TEXT || !startsWith(payload, dialect.replyPrefix)) return;
      if (id > warmup) times.push(since(sent));
      if (id >= warmup + samples) return resolve();
      send();
    });
    send();
  });
  socket.onClose = () => undefined;
  socket.destroy();
  return summary(times);
}

/**
 * `clients` connections with `inflight` requests each always outstanding: replies per second,
 * and the round trip of every reply counted (a socket's replies come in the order of its requests).
 */
export async function requestThroughput(args: Record<string, unknown>): Promise<unknown> {
  const dialect = DIALECTS[kindArg(args)];
  const inflight = numberArg(args, 'inflight');
  const body = 'x'.repeat(numberArg(args, 'bodySize'));
  const sockets: LeanSocket[] = [];
  const clients = numberArg(args, 'clients');
  for (let i = 0; i < clients; i++) sockets.push(await open(dialect, args));
  let counting = false;
  let replies = 0;
  /** Every reply, warm-up included (what the server's CPU time over the whole call paid for). */
  let total = 0;
  let closed = 0;
  const times: number[] = [];
  for (const socket of sockets) {
    let id = 0;
    const sentAt: bigint[] = [];
    const send = (): void => {
      const frame = dialect.frame(++id, body);
      sentAt.push(process.hrtime.bigint());
      socket.write(frame);
    };
    socket.onClose = () => closed++;
    socket.listen((opcode, payload) => {
      if (opcode !== Opcode.TEXT || !startsWith(payload, dialect.replyPrefix)) return;
      const sent = sentAt.shift() ?? 0n;
      total++;
      if (counting) {
        replies++;
        times.push(since(sent));
      }
      send();
    });
    for (let i = 0; i < inflight; i++) send();
  }
  await new Promise((resolve) => setTimeout(resolve, numberArg(args, 'warmupMs')));
  counting = true;
  const startedAt = nowMs();
  await new Promise((resolve) => setTimeout(resolve, numberArg(args, 'durationMs')));
  counting = false;
  const seconds = (nowMs() - startedAt) / 1000;
  for (const socket of sockets) {
    socket.onClose = () => undefined;
    socket.destroy();
  }
  if (closed > 0) throw new Error(`${closed} request connections closed during the run`);
  const { p50, max } = summary(times);
  return { replies, total, seconds, rate: replies / seconds, p50, max };
}
