// What the profiling scripts share (bench/connect-profile.ts, bench/request-profile.ts): the
// benchmark's server in a child process, measured between `start` and `stop` (its CPU time, and
// with a mode its allocations or a CPU profile), and a profile's summary by function.
import type { ChildProcess } from 'node:child_process';
import { Session as Inspector } from 'node:inspector';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type Mode = 'cpu' | 'alloc' | 'prof';

export interface Measured {
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

export function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(name);
  return at < 0 ? fallback : (process.argv[at + 1] ?? fallback);
}

export function reply<T>(child: ChildProcess): Promise<T> {
  return new Promise((done, fail) => {
    const exited = (code: number | null): void => fail(new Error(`a child exited (${String(code)})`));
    child.once('exit', exited);
    child.once('message', (message) => {
      child.off('exit', exited);
      done(message as T);
    });
  });
}

export function ask<T = unknown>(child: ChildProcess, message: object): Promise<T> {
  const answered = reply<T>(child);
  child.send(message);
  return answered;
}
/** The server: the benchmark's, measured between `start` and `stop`. */
export async function serverRole(stack: string): Promise<void> {
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

/**
 * Prints a round's line (`parts`, then the bytes allocated per `unit` when measured), then the
 * profile when one was taken.
 */
export async function printRound(parts: readonly string[], measured: Measured, count: number, unit: string): Promise<void> {
  const all = measured.allocated === undefined ? parts : [...parts, `${(measured.allocated / count).toFixed(0)} B allocated per ${unit}`];
  console.log(all.join(', '));
  if (measured.profile !== undefined) await printProfile(measured.profile, count, unit);
}

/** Where the server's busy time went: by function (self), and the Lifeline functions by what they include. */
export async function printProfile(file: string, count: number, unit: string): Promise<void> {
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
  console.log(`busy ${((busy * perSample) / count).toFixed(0)} µs per ${unit} (${busy} samples); ${file}`);
  console.log('self:');
  for (const entry of [...self].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(line(entry));
  console.log('including what they call:');
  for (const entry of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, 50)) console.log(line(entry));
}
