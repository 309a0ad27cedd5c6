// What one connection costs the server to set up, finer than the `connect` scenario: a server
// (the benchmark's, bundled for plain `node`, as the scenario runs it) takes `--warm` connections,
// then `--count` more are measured, 50 in flight, each up and in a channel (Lifeline: hello with
// the subscribe right behind it, complete at `subscribed`; ws: the 101), all kept open. The
// clients run in another process. Per round it prints the server's CPU time per connection and,
// with `--mode alloc`, the bytes it allocates per connection, dead or alive (V8's sampling heap
// profiler, every 256 B on average, objects already collected included); `--mode prof` writes a
// CPU profile of the measured connections (100 µs sampling) to bench/results/profiles/ and prints
// where the time goes, by function.
//
//   node --import tsx bench/connect-profile.ts [--stack lifeline|ws] [--src DIR] [--mode cpu|alloc|prof]
//                                              [--count 3000] [--warm 500] [--concurrency 50] [--rounds 1]
import { fork, type ChildProcess } from 'node:child_process';
import { Session as Inspector } from 'node:inspector';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { sourceTree } from './build.js';

type Mode = 'cpu' | 'alloc' | 'prof';

interface Measured {
  /** Server CPU time over the measured connections, µs. */
  readonly cpuUs: number;
  /** Bytes allocated over them (alloc mode). */
  readonly allocated?: number;
  /** The CPU profile's file (prof mode). */
  readonly profile?: string;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

interface SampledNode {
  readonly selfSize: number;
  readonly children: readonly SampledNode[];
}

const root = fileURLToPath(new URL('..', import.meta.url));
const role = process.argv[2];
if (role === '--server') await serverRole(process.argv[3] ?? 'lifeline');
else if (role === '--client') clientRole(process.argv[3] ?? 'lifeline', Number(process.argv[4]));
else await main();

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(name);
  return at < 0 ? fallback : (process.argv[at + 1] ?? fallback);
}

async function main(): Promise<void> {
  const stack = option('--stack', 'lifeline');
  const src = process.argv.includes('--src') ? option('--src', '') : undefined;
  const mode = option('--mode', 'cpu') as Mode;
  const count = Number(option('--count', '3000'));
  const warm = Number(option('--warm', '500'));
  const concurrency = Number(option('--concurrency', '50'));
  const rounds = Number(option('--rounds', '1'));
  const outdir = join(root, 'bench/.build', `connect-profile-${process.pid}`);
  mkdirSync(outdir, { recursive: true });
  process.once('exit', () => rmSync(outdir, { recursive: true, force: true }));
  const bundle = join(outdir, 'connect-profile.js');
  const plugins = src === undefined ? [] : [sourceTree(src)];
  await build({ entryPoints: [fileURLToPath(import.meta.url)], bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', outfile: bundle, logLevel: 'error', plugins });
  console.log(`${stack}${src === undefined ? '' : ` from ${src}`}: ${count} connections after ${warm}, ${concurrency} in flight`);
  for (let round = 1; round <= rounds; round++) {
    const server = fork(bundle, ['--server', stack], { execArgv: [] });
    try {
      const port = (await reply<{ port: number }>(server)).port;
      const client = fork(fileURLToPath(import.meta.url), ['--client', stack, String(port)], { execArgv: ['--import', 'tsx'] });
      try {
        await reply(client);
        if (warm > 0) await ask(client, { count: warm, concurrency });
        await new Promise((done) => setTimeout(done, 200));
        await ask(server, { cmd: 'start', mode });
        const { ms } = await ask<{ ms: number }>(client, { count, concurrency });
        const measured = await ask<Measured>(server, { cmd: 'stop', mode, file: join(root, 'bench/results/profiles', `connect-${stack}-${process.pid}-${round}.cpuprofile`) });
        const parts = [`round ${round}: server CPU ${(measured.cpuUs / count).toFixed(0)} µs per connection`, `${((count * 1000) / ms).toFixed(0)} connections/s`];
        if (measured.allocated !== undefined) parts.push(`${(measured.allocated / count).toFixed(0)} B allocated per connection`);
        console.log(parts.join(', '));
        if (measured.profile !== undefined) await printProfile(measured.profile, count);
      } finally {
        client.kill();
      }
    } finally {
      server.kill();
    }
  }
}

function reply<T>(child: ChildProcess): Promise<T> {
  return new Promise((done, fail) => {
    const exited = (code: number | null): void => fail(new Error(`a child exited (${String(code)})`));
    child.once('exit', exited);
    child.once('message', (message) => {
      child.off('exit', exited);
      done(message as T);
    });
  });
}

function ask<T = unknown>(child: ChildProcess, message: object): Promise<T> {
  const answered = reply<T>(child);
  child.send(message);
  return answered;
}

/** The server: the benchmark's, measured between `start` and `stop`. */
async function serverRole(stack: string): Promise<void> {
  const { LifelineBench } = await import('./children/servers/lifeline.js');
  const { WsBench } = await import('./children/servers/ws.js');
  const server = stack === 'ws' ? new WsBench() : new LifelineBench();
  const port = await server.listen({ port: 0, prepublish: 0 }, () => undefined);
  const inspector = new Inspector();
  inspector.connect();
  const post = (method: string, params: object = {}): Promise<unknown> =>
    new Promise((done, fail) => inspector.post(method, params, (error, result) => (error ? fail(error) : done(result))));
  let started = process.cpuUsage();
  process.on('message', (message: { readonly cmd: string; readonly mode: Mode; readonly file?: string }) => {
    void (async () => {
      if (message.cmd === 'start') {
        if (message.mode === 'prof') {
          await post('Profiler.enable');
          await post('Profiler.setSamplingInterval', { interval: 100 });
          await post('Profiler.start');
        }
        if (message.mode === 'alloc') await post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
        started = process.cpuUsage();
        process.send?.({});
        return;
      }
      const cpu = process.cpuUsage(started);
      const measured: { cpuUs: number; allocated?: number; profile?: string } = { cpuUs: cpu.user + cpu.system };
      if (message.mode === 'prof' && message.file !== undefined) {
        const { profile } = (await post('Profiler.stop')) as { profile: CpuProfile };
        mkdirSync(join(message.file, '..'), { recursive: true });
        writeFileSync(message.file, JSON.stringify(profile));
        measured.profile = message.file;
      }
      if (message.mode === 'alloc') {
        const { profile } = (await post('HeapProfiler.stopSampling')) as { profile: { head: SampledNode } };
        const total = (node: SampledNode): number => node.children.reduce((sum, child) => sum + total(child), node.selfSize);
        measured.allocated = total(profile.head);
      }
      process.send?.(measured);
    })();
  });
  process.send?.({ port });
}

/** The clients: `count` more connections on command, `concurrency` in flight, kept open. */
function clientRole(stack: string, port: number): void {
  const sockets: unknown[] = [];
  process.on('message', (message: { readonly count: number; readonly concurrency: number }) => {
    void (async () => {
      const { openLean } = await import('./wire/dialect.js');
      const started = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: message.concurrency }, async () => {
          while (next < message.count) {
            next++;
            sockets.push(await openLean(stack === 'ws' ? 'ws' : 'lifeline', port, { timeoutMs: 15_000, join: 'bench:connect' }));
          }
        }),
      );
      process.send?.({ ms: performance.now() - started });
    })();
  });
  process.send?.({});
}

/** Where the server's busy time went: by function (self), and the Lifeline functions by what they include. */
async function printProfile(file: string, count: number): Promise<void> {
  const { readFileSync } = await import('node:fs');
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const perSample = (profile.endTime - profile.startTime) / profile.samples.length;
  const name = (node: ProfileNode): string => `${node.callFrame.functionName || '(anonymous)'} ${node.callFrame.url.split('/').slice(-2).join('/')}:${node.callFrame.lineNumber + 1}`;
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let busy = 0;
  for (const id of profile.samples) {
    const node = nodes.get(id);
    if (!node || node.callFrame.functionName === '(idle)') continue;
    busy++;
    self.set(name(node), (self.get(name(node)) ?? 0) + 1);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parents.get(at)) {
      const frame = nodes.get(at);
      if (!frame || seen.has(name(frame))) continue;
      seen.add(name(frame));
      inclusive.set(name(frame), (inclusive.get(name(frame)) ?? 0) + 1);
    }
  }
  const line = ([key, samples]: [string, number]): string => `${((samples * perSample) / count).toFixed(1).padStart(7)} µs ${((100 * samples) / busy).toFixed(1).padStart(5)} %  ${key}`;
  console.log(`busy ${((busy * perSample) / count).toFixed(0)} µs per connection (${busy} samples); ${file}`);
  console.log('self:');
  for (const entry of [...self].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(line(entry));
  console.log('including what they call:');
  for (const entry of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, 50)) console.log(line(entry));
}
