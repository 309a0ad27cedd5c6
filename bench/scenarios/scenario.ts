// What a scenario is, and the context one run of it gets: its server and client processes
// (all killed when the run ends, whatever happened), a fresh source address per client process,
// the quiet-machine wait, and CPU accounting.
import { join } from 'node:path';
import type { Bundle } from '../build.js';
import { Child } from '../process/child.js';
import type { BenchOptions } from '../options.js';
import { waitForQuiet, type QuietReport } from '../quiet.js';
import { sum } from '../stats.js';

export type Metrics = Record<string, number>;

export interface MetricInfo {
  readonly label: string;
  readonly unit: string;
  readonly better: 'higher' | 'lower';
  /** The stacks (variants) it is measured for, when not all: the others have no value. */
  readonly only?: readonly string[];
  /** A count for which 0 is a real outcome (nothing failed), not a broken measurement. */
  readonly zeroOk?: true;
  /** A difference of two readings that may come out below 0 (free space that shrank), any finite number. */
  readonly signed?: true;
}

export interface Scenario {
  /** `echo`, `fanout-1000`... */
  readonly key: string;
  readonly title: string;
  /** Stacks (or variants) run in each round, interleaved. */
  readonly stacks: readonly string[];
  readonly metrics: Readonly<Record<string, MetricInfo>>;
  /** Rounds of this scenario, when not the run's (`--rounds`) own. */
  readonly rounds?: number;
  /** One run's deadline; past it the run's processes are killed and the run counts as failed. */
  readonly timeoutMs: number;
  /** Set when the scenario cannot run here (and why). */
  readonly unavailable?: string;
  /** What the run measured, with its parameters, for the results file. */
  readonly params: Record<string, unknown>;
  run(context: RunContext, stack: string): Promise<Metrics>;
  /** After every round of every stack (cleanup of external state). */
  finish?(): Promise<void>;
}

export interface Usage {
  readonly cpuMs: number;
  readonly rss: number;
  readonly heapUsed: number;
  readonly peakRss?: number;
  readonly connections?: number;
  /** From a `gc` reading: resident pages of V8's spaces, old-space free among them, young generation. */
  readonly heapResident?: number;
  readonly oldFree?: number;
  readonly young?: number;
}

let addressCounter = 0;

/** A fresh loopback source address (127.0.1.1, 127.0.1.2, ...) so no run waits on ports in TIME_WAIT. */
function nextAddress(): string {
  const n = addressCounter++ % (254 * 254);
  return `127.0.${1 + Math.floor(n / 254)}.${1 + (n % 254)}`;
}

export class RunContext {
  readonly quiet: QuietReport[] = [];
  readonly #children: Child[] = [];
  #profiles = 0;

  constructor(
    readonly options: BenchOptions,
    readonly bundle: Bundle,
    readonly scenario: string,
  ) {}

  /** Starts a server child of `stack` and has it listen; resolves with it and its port. */
  async server(stack: string, listen: Readonly<Record<string, unknown>> = { port: 0 }, flags: { readonly gc?: boolean; readonly cpu?: number } = {}): Promise<{ readonly child: Child; readonly port: number }> {
    const nodeFlags = [...(flags.gc ? ['--expose-gc'] : []), ...this.profileFlags(stack)];
    const child = await this.#start({ name: `server:${stack}`, script: this.bundle.server, args: [stack], nodeFlags, ...(flags.cpu === undefined ? {} : { cpu: flags.cpu }) });
    const { port } = await child.call<{ port: number }>('listen', listen, 20_000);
    return { child, port };
  }

  /** Starts `count` lean-client processes, each with its own source address (pinned to `cpu` if given). */
  clients(count: number, cpu?: number): Promise<{ readonly child: Child; readonly localAddress: string }[]> {
    return Promise.all(
      Array.from({ length: count }, async (_, i) => ({ child: await this.#start({ name: `client#${i + 1}`, script: this.bundle.client, ...(cpu === undefined ? {} : { cpu }) }), localAddress: nextAddress() })),
    );
  }

  /** Starts `count` processes of real reconnecting clients. */
  stormClients(count: number): Promise<{ readonly child: Child; readonly localAddress: string }[]> {
    return Promise.all(
      Array.from({ length: count }, async (_, i) => ({ child: await this.#start({ name: `storm-client#${i + 1}`, script: this.bundle.stormClient }), localAddress: nextAddress() })),
    );
  }

  /** Starts one process of `script` (a bundled child), ended with the run. */
  process(name: string, script: string, nodeFlags: readonly string[] = []): Promise<Child> {
    return this.#start({ name, script, nodeFlags });
  }

  /** `--cpu-prof` flags when `--profile` names `stack` (the profile lands in the output directory), else none. */
  profileFlags(stack: string): string[] {
    if (!this.options.profile.includes(stack)) return [];
    const name = `${this.scenario}-${stack}-${process.pid}-${Date.now()}-${this.#profiles++}.cpuprofile`;
    return ['--cpu-prof', `--cpu-prof-dir=${join(this.options.outDir, 'profiles')}`, `--cpu-prof-name=${name}`];
  }

  /** Waits (bounded) for a quiet machine and keeps the report with the run. */
  async waitQuiet(): Promise<void> {
    this.quiet.push(await waitForQuiet(this.options.sizes.quietMaxWaitMs));
  }

  /** Ends every process of the run: IPC first (a profiled server then writes its profile), SIGKILL after 3 s. */
  async dispose(): Promise<void> {
    await Promise.all(this.#children.splice(0).map((child) => child.stop(3000)));
  }

  async #start(options: Parameters<typeof Child.start>[0]): Promise<Child> {
    const child = await Child.start(options);
    this.#children.push(child);
    return child;
  }
}

/** CPU milliseconds of `children` (summed), from their own process.cpuUsage(). */
export async function cpuOf(children: readonly Child[]): Promise<number> {
  const usages = await Promise.all(children.map((child) => child.call<Usage>('usage')));
  return sum(usages.map((u) => u.cpuMs));
}

/** Splits `total` into `parts` near-equal shares. */
export function split(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `value` when it is a positive finite number, else an error naming `what` (a result the harness cannot trust). */
export function checked(what: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${what} came out as ${value}`);
  return value;
}
