// The heap one idle `lifeline.v1` session with one subscription holds on the server, finer than the
// `idle` scenario: a Lifeline server from the sources (under tsx, in this process) is read with
// 1,000 and then 3,000 such sessions, each reading after two full collections, and the growth is
// divided by 2,000 (the first 1,000 take the one-time costs: code, maps' first tables, the young
// generation's first growth). The clients run in a child process, so only the server is measured.
//
//   node --expose-gc --import tsx bench/session-heap.ts [--src DIR] [--stack ws [--join]] [--rounds N] [--snapshot] [--sweep MS]
//                [--default-rate]
//
// --src DIR     measures the server in DIR (a copy of src/) instead of src/; a copy outside the
//               repository is copied into scratch/ for the run, where it finds the packages.
// --stack ws    measures the benchmark's raw ws server instead (a socket in its sets), for scale.
// --join        with --stack ws, each raw client also sends one message (`sub`) and waits for its
//               answer, as an app's client joins a channel: what a ws socket holds once it has
//               received a message (the `idle` scenario's raw ws clients send none).
// --rounds N    reads N times (1,000 -> 3,000 each, the clients closing in between), prints each.
// --snapshot    also writes heap snapshots at 1,000 and 3,000 sessions (first round) and prints the
//               objects retained per session by constructor (self size, the growth over 2,000);
//               plain objects by their first properties, e.g. `object {user,window,...}`.
// --default-rate  keeps the server's default maxMessageRate (1,000/s; the other readings lift it,
//               as the benchmark servers do): what its per-connection bucket costs.
// --sweep MS    runs the server's keepalive every MS ms and, after the last reading, prints what
//               one sweep allocates per session (V8's sampling heap profiler over ten intervals,
//               counting objects already collected): the garbage an idle server makes each ping
//               interval.
import { fork, type ChildProcess } from 'node:child_process';
import { cpSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Session as Inspector } from 'node:inspector';
import { writeHeapSnapshot } from 'node:v8';
import { openLean } from './wire/dialect.js';
import type { LeanSocket } from './wire/lean-socket.js';

const CHANNEL = 'bench:idle';
const FIRST = 1000;
const LAST = 3000;

interface ClientCommand {
  readonly open?: number;
  readonly close?: true;
}

if (process.argv.includes('--client')) await clientProcess();
else await measure();

/** The client side: opens sessions (hello, subscribe) on command, answers with how many are open. */
async function clientProcess(): Promise<void> {
  const port = Number(process.argv[process.argv.indexOf('--client') + 1]);
  const raw = process.argv.includes('ws');
  const join = process.argv.includes('--join');
  const sockets: LeanSocket[] = [];
  process.on('message', (command: ClientCommand) => {
    void (async () => {
      if (command.close) for (const socket of sockets.splice(0)) socket.destroy();
      const target = command.open ?? 0;
      while (sockets.length < target) {
        const batch = Math.min(100, target - sockets.length);
        const opened = await Promise.all(
          Array.from({ length: batch }, async () => {
            const socket = await openLean(raw ? 'ws' : 'lifeline', port, { timeoutMs: 10_000 });
            if (raw && join) {
              socket.sendText('{"type":"sub"}');
              await socket.next((text) => text.startsWith('{"type":"subbed"'), 10_000);
            }
            if (raw) return socket;
            socket.sendText(JSON.stringify({ type: 'subscribe', id: 1, channel: CHANNEL }));
            await socket.next((text) => text.startsWith('{"type":"subscribed"'), 10_000);
            return socket;
          }),
        );
        sockets.push(...opened);
      }
      process.send?.(sockets.length);
    })().catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
  });
}

interface LifelineModule {
  createServer(options: Record<string, unknown>): {
    listen(): Promise<{ readonly port: number }>;
    readonly connections: { readonly size: number };
  };
}

interface Measured {
  readonly port: number;
  connections(): number;
}

async function lifelineServer(src: string, pingInterval: number | undefined): Promise<Measured> {
  const lifeline = (await import(pathToFileURL(join(src, 'server/index.ts')).href)) as LifelineModule;
  const { pino } = await import('pino');
  const server = lifeline.createServer({ port: 0, channels: { bench: { history: { size: 1000, ttl: 60_000 } } }, logger: pino({ level: 'error' }), ...(process.argv.includes('--default-rate') ? {} : { maxMessageRate: Infinity }), ...(pingInterval === undefined ? {} : { pingInterval }) });
  const { port } = await server.listen();
  return { port, connections: () => server.connections.size };
}

async function wsServer(): Promise<Measured> {
  const { WsBench } = await import('./children/servers/ws.js');
  const server = new WsBench();
  const port = await server.listen({ port: 0, prepublish: 0 }, () => undefined);
  return { port, connections: () => server.connections() };
}

async function measure(): Promise<void> {
  const gc = globalThis.gc;
  if (!gc) throw new Error('run with node --expose-gc');
  const root = dirname(dirname(new URL(import.meta.url).pathname));
  const given = resolve(option('--src') ?? join(root, 'src'));
  const outside = relative(root, given).startsWith('..');
  const src = outside ? join(root, 'scratch', `session-heap-src-${process.pid}`) : given;
  if (outside) {
    cpSync(given, src, { recursive: true });
    process.on('exit', () => rmSync(src, { recursive: true, force: true }));
  }
  const rounds = Number(option('--rounds') ?? 1);
  const snapshot = process.argv.includes('--snapshot');
  const stack = option('--stack') ?? 'lifeline';
  const sweep = option('--sweep') === undefined ? undefined : Number(option('--sweep'));
  const server = stack === 'ws' ? await wsServer() : await lifelineServer(src, sweep);
  const client = fork(new URL(import.meta.url).pathname, ['--client', String(server.port), stack, ...(process.argv.includes('--join') ? ['--join'] : [])], { execArgv: ['--import', 'tsx'] });
  const settle = async (): Promise<number> => {
    await new Promise((done) => setTimeout(done, 300));
    gc();
    gc();
    return process.memoryUsage().heapUsed;
  };
  console.log(stack === 'ws' ? 'raw ws' : `src ${given}`);
  const perSession: number[] = [];
  for (let round = 0; round < rounds; round++) {
    await ask(client, { close: round > 0 ? true : undefined, open: FIRST });
    await waitFor(() => server.connections() === FIRST);
    const low = await settle();
    const lowSnapshot = snapshot && round === 0 ? writeHeapSnapshot(join(tmpdir(), `session-heap-${process.pid}-low.heapsnapshot`)) : undefined;
    await ask(client, { open: LAST });
    await waitFor(() => server.connections() === LAST);
    const high = await settle();
    const bytes = (high - low) / (LAST - FIRST);
    perSession.push(bytes);
    console.log(`round ${round + 1}: ${bytes.toFixed(0)} B of heap per session (${FIRST} -> ${LAST} sessions)`);
    if (lowSnapshot) {
      const highSnapshot = writeHeapSnapshot(join(tmpdir(), `session-heap-${process.pid}-high.heapsnapshot`));
      printGrowth(lowSnapshot, highSnapshot);
      rmSync(lowSnapshot);
      rmSync(highSnapshot);
    }
  }
  const sorted = [...perSession].sort((a, b) => a - b);
  console.log(`median ${(sorted[Math.floor(sorted.length / 2)] ?? 0).toFixed(0)} B per session`);
  // Ten intervals, so a sweep cut at either end of the window moves the figure by a tenth at most.
  if (sweep !== undefined) console.log(`one keepalive sweep allocates ${((await allocatedDuring(10 * sweep)) / 10 / LAST).toFixed(0)} B per session (${LAST} sessions, ten sweeps)`);
  client.kill();
  process.exit(0);
}

/** Bytes this process allocates over `ms`, dead or alive (V8's sampling heap profiler, every 128 B on average). */
async function allocatedDuring(ms: number): Promise<number> {
  const inspector = new Inspector();
  inspector.connect();
  const post = (method: string, params: object = {}): Promise<unknown> =>
    new Promise((done, fail) => inspector.post(method, params, (error, result) => (error ? fail(error) : done(result))));
  await post('HeapProfiler.startSampling', { samplingInterval: 128, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  await new Promise((done) => setTimeout(done, ms));
  const { profile } = (await post('HeapProfiler.stopSampling')) as { profile: { head: SampledNode } };
  inspector.disconnect();
  const total = (node: SampledNode): number => node.children.reduce((sum, child) => sum + total(child), node.selfSize);
  return total(profile.head);
}

interface SampledNode {
  readonly selfSize: number;
  readonly children: readonly SampledNode[];
}

function option(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at < 0 ? undefined : process.argv[at + 1];
}

function ask(child: ChildProcess, command: ClientCommand): Promise<number> {
  return new Promise((done, fail) => {
    child.once('message', (count) => done(count as number));
    child.once('exit', (code) => fail(new Error(`the client process exited (${String(code)})`)));
    child.send(command);
  });
}

async function waitFor(condition: () => boolean): Promise<void> {
  for (let tries = 0; tries < 200 && !condition(); tries++) await new Promise((done) => setTimeout(done, 50));
  if (!condition()) throw new Error('the server does not hold the sessions the clients opened');
}

interface Snapshot {
  readonly snapshot: {
    readonly meta: {
      readonly node_fields: string[];
      readonly node_types: (string | string[])[];
      readonly edge_fields: string[];
      readonly edge_types: (string | string[])[];
    };
  };
  readonly nodes: number[];
  readonly edges: number[];
  readonly strings: string[];
}

/**
 * Self size and count per kind of object: its constructor (V8's node name; by type for the
 * unnamed kinds), after `<-` the object that holds it and the property it is held by (its first
 * retainer that is not a weak or shortcut edge), so arrays and plain objects say whose they are.
 */
function byConstructor(file: string): Map<string, { size: number; count: number }> {
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const meta = parsed.snapshot.meta;
  const fields = meta.node_fields;
  const types = meta.node_types[0] as string[];
  const edgeTypes = meta.edge_types[0] as string[];
  const width = fields.length;
  const edgeWidth = meta.edge_fields.length;
  const [typeAt, nameAt, sizeAt, countAt] = [fields.indexOf('type'), fields.indexOf('name'), fields.indexOf('self_size'), fields.indexOf('edge_count')];
  const [edgeTypeAt, edgeNameAt, edgeToAt] = [meta.edge_fields.indexOf('type'), meta.edge_fields.indexOf('name_or_index'), meta.edge_fields.indexOf('to_node')];
  const label = (at: number): string => {
    const type = types[parsed.nodes[at + typeAt] as number] ?? '?';
    const name = parsed.strings[parsed.nodes[at + nameAt] as number] ?? '?';
    // Plain objects are told apart by their properties (a session record, an outbox, a listener table).
    if (type === 'object' && name === 'Object') return `object {${(properties.get(at) ?? []).join(',')}}`;
    return type === 'object' || type === 'closure' || type === 'native' || type === 'synthetic' ? `${type} ${name.slice(0, 40)}` : `(${type})`;
  };
  const properties = new Map<number, string[]>();
  for (let at = 0, edge = 0; at < parsed.nodes.length; at += width) {
    const names: string[] = [];
    for (let n = 0; n < (parsed.nodes[at + countAt] as number); n++, edge += edgeWidth) {
      if (edgeTypes[parsed.edges[edge + edgeTypeAt] as number] === 'property') names.push((parsed.strings[parsed.edges[edge + edgeNameAt] as number] ?? '?').slice(0, 12));
    }
    if (names.length > 0) properties.set(at, names.slice(0, 8));
  }
  const holder = new Map<number, { readonly at: number; readonly name: string }>();
  for (let at = 0, edge = 0; at < parsed.nodes.length; at += width) {
    const edges = parsed.nodes[at + countAt] as number;
    for (let n = 0; n < edges; n++, edge += edgeWidth) {
      const to = parsed.edges[edge + edgeToAt] as number;
      const kind = edgeTypes[parsed.edges[edge + edgeTypeAt] as number];
      if (kind === 'weak' || kind === 'shortcut' || holder.has(to)) continue;
      const raw = parsed.edges[edge + edgeNameAt] as number;
      const named = parsed.strings[raw] ?? '?';
      // A hash table's entries are internal edges named by their index: one name for all of them.
      const name = kind === 'element' || kind === 'hidden' || (kind === 'internal' && /^\d+$/.test(named)) ? '[]' : named;
      holder.set(to, { at, name: name.slice(0, 30) });
    }
  }
  // Anonymous containers (arrays, plain objects, contexts, strings) are named by two holders.
  const anonymous = /^\((array|hidden|string|number)\)$|^object (\{.*\}|Array|Map|Set|WeakMap|system \/ Context)$|^closure $/;
  const path = (at: number, depth: number): string => {
    const held = holder.get(at);
    if (!held) return '(root)';
    const here = `${label(held.at)}.${held.name}`;
    return depth > 0 && anonymous.test(label(held.at)) ? `${here} <- ${path(held.at, depth - 1)}` : here;
  };
  const out = new Map<string, { size: number; count: number }>();
  for (let at = 0; at < parsed.nodes.length; at += width) {
    const key = anonymous.test(label(at)) ? `${label(at)} <- ${path(at, 2)}` : label(at);
    const entry = out.get(key) ?? { size: 0, count: 0 };
    entry.size += parsed.nodes[at + sizeAt] as number;
    entry.count += 1;
    out.set(key, entry);
  }
  return out;
}

/** What the snapshots grew by per added session, largest first. */
function printGrowth(lowPath: string, highPath: string): void {
  const low = byConstructor(lowPath);
  const high = byConstructor(highPath);
  const sessions = LAST - FIRST;
  const rows = [...high].map(([key, { size, count }]) => ({ key, bytes: (size - (low.get(key)?.size ?? 0)) / sessions, count: (count - (low.get(key)?.count ?? 0)) / sessions }));
  rows.sort((a, b) => b.bytes - a.bytes);
  let total = 0;
  for (const row of rows) total += row.bytes;
  console.log(`snapshot growth per session: ${total.toFixed(0)} B`);
  for (const row of rows.filter((r) => Math.abs(r.bytes) >= 4)) console.log(`  ${row.bytes.toFixed(0).padStart(6)} B  ${row.count.toFixed(2).padStart(6)} x  ${row.key}`);
}
