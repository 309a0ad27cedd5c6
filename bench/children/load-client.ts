// Lean `lifeline.v1` clients for `npm run load`, many per process: each says hello, subscribes
// to one channel of the run and checks every event it gets: that it is the next one of its
// channel (in order, none missing) and how long after its publish it arrived. Latency goes into
// 1 ms buckets, so millions of deliveries cost no memory. An event carries its publish attempt
// (`r`, 0 for the first): when the harness sent the same `s` again after an HTTP timeout and the
// server had accepted both, the second arrives as the same `s` with a higher `r`, counted as a
// retried publish, not as a reorder.
import { openLean } from '../wire/dialect.js';
import { Opcode, startsWith } from '../wire/frame.js';
import type { LeanSocket } from '../wire/lean-socket.js';
import { nowMs, numberArg, optionalString, serve, stringArg, usage, type Handlers } from '../process/rpc.js';

const BUCKETS = 10_001; // 0..10 000 ms, the last one "10 s or more"
const EVENT = Buffer.from('{"type":"event"');

interface Subscriber {
  readonly socket: LeanSocket;
  /** The last `s` seen on its channel, and the publish attempt it came from. */
  last: number;
  lastAttempt: number;
}

const subscribers: Subscriber[] = [];
let histogram = new Uint32Array(BUCKETS);
let received = 0;
let outOfOrder = 0;
let retried = 0;

async function pool(count: number, concurrency: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, worker));
}

function onEvent(subscriber: Subscriber, payload: Buffer): void {
  // {"type":"event","channel":"…","epoch":"…","offset":N,"data":{"s":SEQ,"t":MS,"r":ATTEMPT}}
  const data = (JSON.parse(payload.toString('utf8')) as { data: { s: number; t: number; r?: number } }).data;
  const at = nowMs();
  const attempt = data.r ?? 0;
  received++;
  if (data.s === subscriber.last && attempt > subscriber.lastAttempt) retried++;
  else if (data.s !== subscriber.last + 1) outOfOrder++;
  subscriber.last = data.s;
  subscriber.lastAttempt = attempt;
  const bucket = Math.min(BUCKETS - 1, Math.max(0, Math.floor(at - data.t)));
  histogram[bucket] = (histogram[bucket] ?? 0) + 1;
}

const handlers: Handlers = {
  async connect(args) {
    const port = numberArg(args, 'port');
    const count = numberArg(args, 'count');
    const channels = numberArg(args, 'channels');
    const first = numberArg(args, 'first');
    const prefix = stringArg(args, 'prefix');
    const localAddress = optionalString(args, 'localAddress');
    let failed = 0;
    const errors: string[] = [];
    await pool(count, 50, async (i) => {
      try {
        const socket = await openLean('lifeline', port, { timeoutMs: 20_000, localAddress, join: `${prefix}${(first + i) % channels}` });
        const subscriber: Subscriber = { socket, last: 0, lastAttempt: 0 };
        socket.listen((opcode, payload) => {
          if (opcode === Opcode.TEXT && startsWith(payload, EVENT)) onEvent(subscriber, payload);
        });
        subscribers.push(subscriber);
      } catch (error) {
        failed++;
        if (errors.length < 3) errors.push(error instanceof Error ? error.message : String(error));
      }
    });
    return { connected: subscribers.length, failed, errors };
  },
  /** Starts a step: counters and the histogram from zero. */
  reset() {
    histogram = new Uint32Array(BUCKETS);
    received = 0;
    outOfOrder = 0;
    retried = 0;
  },
  /** Deliveries so far, a retried publish's second copy left out. */
  progress: () => ({ received: received - retried }),
  /** The step's figures: deliveries, order violations, deliveries of retried publishes, the latency histogram (sparse). */
  report() {
    const buckets: [number, number][] = [];
    histogram.forEach((count, ms) => {
      if (count > 0) buckets.push([ms, count]);
    });
    return { received, outOfOrder, retried, buckets, closed: subscribers.filter((s) => s.socket.closed).length };
  },
  usage: () => ({ ...usage(), open: subscribers.filter((s) => !s.socket.closed).length }),
  closeAll() {
    for (const subscriber of subscribers.splice(0)) subscriber.socket.destroy();
  },
};

serve(handlers);
