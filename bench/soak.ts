// `npm run soak [-- --minutes N]`: a `lifeline serve` process under churn for N minutes (default
// 10): connections open, subscribe and end in three ways (a close handshake, an abrupt drop,
// a drop followed by a resume that replays what was missed) while events are published. The
// server's heap, handles and resources by type (from /metrics, which reads
// process.getActiveResourcesInfo()) and its open sockets (/proc) are sampled at a baseline and,
// after a quiet period longer than the recovery window and the idle-channel TTL, at the end:
// the report says whether they came back (within a tolerance) and lists what grew. Each sample
// follows a full GC in the server (a SIGUSR2 hook loaded with --expose-gc). Not in CI.
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { LeanSocket } from './wire/lean-socket.js';
import { Opcode, startsWith } from './wire/frame.js';
import { PROTOCOL } from './wire/dialect.js';
import { ServeProcess } from './serve/serve-process.js';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '10' }, batch: { type: 'string', default: '60' } } });
const MINUTES = Number(values.minutes);
const BATCH = Number(values.batch);
const RECOVERY_MS = 5000;
const IDLE_CHANNEL_MS = 5000;
const QUIET_MS = RECOVERY_MS + IDLE_CHANNEL_MS + 10_000;
const WARMUP_MS = 30_000;
const CHANNELS = 20;
const RUN_MS = WARMUP_MS + MINUTES * 60_000 + 2 * QUIET_MS + 120_000;
const EVENT = Buffer.from('{"type":"event"');

interface Sample {
  readonly heapUsedMB: number;
  readonly rssMB: number;
  readonly handles: number;
  readonly resources: Readonly<Record<string, number>>;
  readonly sockets: number;
  readonly connections: number;
}

/**
 * Node flags for the server: a full collection on SIGUSR2, so the heap is read without the
 * garbage that happens to be waiting (the server's own code is unchanged).
 */
const GC_HOOK = ['--expose-gc', '--import', 'data:text/javascript,process.on("SIGUSR2",()=>{globalThis.gc();globalThis.gc()})'];

async function sample(server: ServeProcess): Promise<Sample> {
  server.signal('SIGUSR2');
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const m = await server.metrics(10_000);
  if (!m) throw new Error('/metrics did not answer');
  const resources: Record<string, number> = {};
  for (const [key, value] of m) {
    const type = /^nodejs_active_resources\{type="([^"]+)"\}$/.exec(key)?.[1];
    if (type !== undefined) resources[type] = value;
  }
  return {
    heapUsedMB: Math.round(((m.get('nodejs_heap_size_used_bytes') ?? NaN) / 2 ** 20) * 10) / 10,
    rssMB: Math.round(server.rss() / 2 ** 20),
    handles: m.get('nodejs_active_handles_total') ?? NaN,
    resources,
    sockets: server.sockets(),
    connections: m.get('lifeline_connections_open') ?? NaN,
  };
}

interface Session {
  readonly socket: LeanSocket;
  readonly session: string;
  readonly secret: string;
  readonly channel: string;
  position: { epoch: string; offset: number } | undefined;
}

async function open(port: number, channel: string, resume?: Session): Promise<{ client: Session; resumed: boolean; replayed: number }> {
  const socket = await LeanSocket.connect({ host: '127.0.0.1', port, path: '/ws', protocol: PROTOCOL, timeoutMs: 15_000 });
  try {
    socket.sendText(JSON.stringify({ type: 'hello', v: 1, ...(resume ? { session: resume.session, secret: resume.secret } : {}) }));
    const welcome = JSON.parse(await socket.next((text) => text.startsWith('{"type":"welcome"'), 15_000)) as { session: string; secret: string; resumed: boolean };
    const client: Session = { socket, session: welcome.session, secret: welcome.secret, channel, position: resume?.position };
    let replayed = 0;
    socket.listen((opcode, payload) => {
      if (opcode !== Opcode.TEXT || !startsWith(payload, EVENT)) return;
      const event = JSON.parse(payload.toString('utf8')) as { epoch: string; offset: number };
      client.position = { epoch: event.epoch, offset: event.offset };
      replayed++;
    });
    const since = resume?.position;
    socket.sendText(JSON.stringify({ type: 'subscribe', id: 1, channel, ...(since ? { since } : {}) }));
    await socket.next((text) => text.startsWith('{"type":"subscribed"'), 15_000);
    return { client, resumed: welcome.resumed, replayed };
  } catch (error) {
    socket.destroy();
    throw error;
  }
}

function closeFrame(socket: LeanSocket): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.destroy();
      resolve();
    }, 5000);
    socket.onClose = () => {
      clearTimeout(timer);
      resolve();
    };
    // a masked close frame, code 1000
    socket.write(Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]));
  });
}

function diff(before: Sample, after: Sample): string[] {
  const grown: string[] = [];
  const types = new Set([...Object.keys(before.resources), ...Object.keys(after.resources)]);
  for (const type of types) {
    const delta = (after.resources[type] ?? 0) - (before.resources[type] ?? 0);
    if (delta !== 0) grown.push(`${type} ${before.resources[type] ?? 0} -> ${after.resources[type] ?? 0}`);
  }
  return grown;
}

type Totals = Record<'opened' | 'closed' | 'dropped' | 'resumes' | 'resumed' | 'replayed' | 'published' | 'failedPublishes' | 'errors', number>;

function emptyTotals(): Totals {
  return { opened: 0, closed: 0, dropped: 0, resumes: 0, resumed: 0, replayed: 0, published: 0, failedPublishes: 0, errors: 0 };
}

/** Batches of connections that close, drop, and drop and resume, with publishes, until `end`. */
async function churn(server: ServeProcess, end: number, totals: Totals, firstErrors: string[], afterBatch: () => void | Promise<void>): Promise<void> {
  let batchNo = 0;
  while (Date.now() < end) {
    batchNo++;
    const clients: Session[] = [];
    await Promise.all(
      Array.from({ length: BATCH }, async (_, i) => {
        try {
          clients.push((await open(server.port, `soak:c${(batchNo * BATCH + i) % CHANNELS}`)).client);
          totals.opened++;
        } catch (error) {
          totals.errors++;
          if (firstErrors.length < 3) firstErrors.push(String(error));
        }
      }),
    );
    const publishOnce = async (): Promise<void> => {
      await Promise.all(
        Array.from({ length: CHANNELS }, async (_, ch) => {
          if (await server.publish(`soak:c${ch}`, { batch: batchNo }, 10_000)) totals.published++;
          else totals.failedPublishes++;
        }),
      );
    };
    await publishOnce();
    // a third close cleanly, a third drop, a third drop and come back with a resume
    const comeback: Session[] = [];
    await Promise.all(
      clients.map(async (client, i) => {
        if (i % 3 === 0) {
          await closeFrame(client.socket);
          totals.closed++;
        } else {
          client.socket.destroy();
          totals.dropped++;
          if (i % 3 === 2) comeback.push(client);
        }
      }),
    );
    await publishOnce(); // missed by the dropped ones
    const back = await Promise.all(
      comeback.map(async (old) => {
        totals.resumes++;
        try {
          const { client, resumed, replayed } = await open(server.port, old.channel, old);
          if (resumed) totals.resumed++;
          totals.replayed += replayed;
          return client;
        } catch (error) {
          totals.errors++;
          if (firstErrors.length < 3) firstErrors.push(String(error));
          return undefined;
        }
      }),
    );
    await Promise.all(back.map((client) => (client ? closeFrame(client.socket) : undefined)));
    await afterBatch();
  }
}

async function run(): Promise<void> {
  const started = Date.now();
  console.log(`soak: ${MINUTES} min of churn in batches of ${BATCH}; quiet period ${QUIET_MS / 1000} s (recovery window ${RECOVERY_MS} ms, idle-channel TTL ${IDLE_CHANNEL_MS} ms)`);
  console.log(`machine: ${availableParallelism()} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; node ${process.version}`);
  const server = await ServeProcess.start([
    '--allow-anonymous',
    '--channels',
    JSON.stringify({ soak: { history: { size: 200, ttl: 60_000 } } }),
    '--recovery-window',
    String(RECOVERY_MS),
    '--idle-channel-ttl',
    String(IDLE_CHANNEL_MS),
    // Churn reconnects whole batches at once: it measures what connections leave behind, not admission (no rate, no refusal while the loop is behind).
    '--admission-rate',
    '1000000',
    '--max-event-loop-delay',
    '0',
  ], GC_HOOK);
  try {
    // Warm-up: the first connections compile code and create structures that live as long as
    // the process; the baseline is taken after them, so only what churn leaves behind counts.
    const warm = emptyTotals();
    await churn(server, Date.now() + WARMUP_MS, warm, [], () => undefined);
    await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
    const baseline = await sample(server);
    console.log(`baseline (after ${WARMUP_MS / 1000} s of warm-up churn and ${QUIET_MS / 1000} s quiet): ${JSON.stringify(baseline)}`);
    const totals = emptyTotals();
    const firstErrors: string[] = [];
    const trend: Sample[] = [];
    let nextSample = Date.now() + 30_000;
    await churn(server, Date.now() + MINUTES * 60_000, totals, firstErrors, async () => {
      if (Date.now() < nextSample) return;
      nextSample += 30_000;
      const s = await sample(server);
      trend.push(s);
      console.log(`${((Date.now() - started) / 60_000).toFixed(1)} min: ${JSON.stringify({ ...s, resources: undefined })} ${JSON.stringify(totals)}`);
    });
    console.log(`churn done: ${JSON.stringify(totals)}${firstErrors.length > 0 ? `; first errors: ${firstErrors.join(' | ')}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
    const final = await sample(server);
    console.log(`after ${QUIET_MS / 1000} s quiet: ${JSON.stringify(final)}`);
    const heapTolerance = Math.max(5, baseline.heapUsedMB * 0.2);
    const checks = {
      connections: final.connections === 0,
      handles: final.handles <= baseline.handles + 2,
      sockets: final.sockets <= baseline.sockets + 2,
      heap: final.heapUsedMB <= baseline.heapUsedMB + heapTolerance,
    };
    const grown = diff(baseline, final);
    console.log(`\n| | baseline | end (after quiet) | back to baseline |`);
    console.log(`|---|---|---|---|`);
    console.log(`| connections open | ${baseline.connections} | ${final.connections} | ${checks.connections ? 'yes' : 'NO'} |`);
    console.log(`| active handles | ${baseline.handles} | ${final.handles} | ${checks.handles ? 'yes' : 'NO'} (tolerance +2) |`);
    console.log(`| open sockets (fds) | ${baseline.sockets} | ${final.sockets} | ${checks.sockets ? 'yes' : 'NO'} (tolerance +2) |`);
    console.log(`| heap used MB | ${baseline.heapUsedMB} | ${final.heapUsedMB} | ${checks.heap ? 'yes' : 'NO'} (tolerance +${heapTolerance.toFixed(0)} MB, after a full GC) |`);
    console.log(`| RSS MB | ${baseline.rssMB} | ${final.rssMB} | (not judged) |`);
    console.log(`\nresources by type that changed (timers, sockets...): ${grown.length === 0 ? 'none' : grown.join('; ')}`);
    console.log(`result: ${Object.values(checks).every(Boolean) ? 'back to baseline' : `NOT back to baseline: ${Object.entries(checks).filter(([, ok]) => !ok).map(([name]) => name).join(', ')}`}`);
    console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ${((Date.now() - started) / 1000).toFixed(0)} s in all`);
    if (!Object.values(checks).every(Boolean)) process.exitCode = 1;
  } finally {
    server.kill();
  }
}

const bound = setTimeout(() => {
  console.error(`soak: not done within ${RUN_MS / 1000} s; stopping`);
  process.exit(1);
}, RUN_MS);
bound.unref();
run().then(
  () => process.exit(process.exitCode ?? 0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
