// The parent side: spawns bundled benchmark children on plain `node`, calls their commands with
// a deadline each, and keeps a registry so every child dies with the harness (normal exit,
// Ctrl-C, a crash or a timeout alike).
import { spawn, type ChildProcess } from 'node:child_process';
import { pinned } from './pinning.js';
import type { Reply } from './rpc.js';

export interface ChildOptions {
  /** For error messages: `server:lifeline`, `client#2`... */
  readonly name: string;
  readonly script: string;
  readonly args?: readonly string[];
  /** Node flags (`--expose-gc`, `--cpu-prof`...). */
  readonly nodeFlags?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly startTimeoutMs?: number;
  /** The CPU to pin the child to (`taskset`; see pinning.ts, and check `canPin()` first). */
  readonly cpu?: number;
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

const living = new Set<ChildProcess>();

/** Kills every child still alive (SIGKILL: a benchmark child holds nothing worth a clean exit). */
export function killAll(): void {
  for (const child of living) child.kill('SIGKILL');
  living.clear();
}

let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      killAll();
      process.exit(130);
    });
  }
}

/** Keeps the last `limit` characters of a stream, for error reports. */
function tail(limit: number): { add(chunk: string): void; text(): string } {
  let text = '';
  return {
    add(chunk) {
      text = (text + chunk).slice(-limit);
    },
    text: () => text,
  };
}

export class Child {
  readonly exited: Promise<Exit>;
  #nextId = 1;
  readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }>();
  readonly #output = tail(4000);
  #exit: Exit | undefined;

  private constructor(
    readonly name: string,
    private readonly process: ChildProcess,
  ) {
    process.stdout?.setEncoding('utf8').on('data', (chunk: string) => this.#output.add(chunk));
    process.stderr?.setEncoding('utf8').on('data', (chunk: string) => this.#output.add(chunk));
    process.on('message', (message: unknown) => this.#reply(message));
    this.exited = new Promise((resolve) => {
      process.once('exit', (code, signal) => {
        living.delete(process);
        this.#exit = { code, signal };
        for (const [id, pending] of this.#pending) {
          clearTimeout(pending.timer);
          pending.reject(new Error(`${this.name} exited (${signal ?? code}) before answering command ${id}${this.#describeOutput()}`));
        }
        this.#pending.clear();
        resolve({ code, signal });
      });
    });
  }

  static start(options: ChildOptions): Promise<Child> {
    hookExit();
    const run = pinned(options.cpu, process.execPath, [...(options.nodeFlags ?? []), options.script, ...(options.args ?? [])]);
    // taskset executes node in its own process: the pid, signals and IPC are node's.
    const spawned = spawn(run.command, [...run.args], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, ...options.env },
    });
    living.add(spawned);
    const child = new Child(options.name, spawned);
    const deadline = options.startTimeoutMs ?? 15_000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        spawned.kill('SIGKILL');
        reject(new Error(`${options.name} did not start within ${deadline} ms${child.#describeOutput()}`));
      }, deadline);
      const onReady = (message: unknown): void => {
        if (typeof message !== 'object' || message === null || !('ready' in message)) return;
        clearTimeout(timer);
        spawned.off('message', onReady);
        resolve(child);
      };
      spawned.on('message', onReady);
      void child.exited.then((exit) => {
        clearTimeout(timer);
        reject(new Error(`${options.name} exited (${exit.signal ?? exit.code}) while starting${child.#describeOutput()}`));
      });
    });
  }

  get pid(): number {
    return this.process.pid ?? -1;
  }

  get alive(): boolean {
    return this.#exit === undefined;
  }

  /** Runs a command in the child; rejects after `timeoutMs` or if the child dies first. */
  call<T>(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<T> {
    if (!this.alive) return Promise.reject(new Error(`${this.name} is not running`));
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${this.name}: "${cmd}" did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve: (value) => resolve(value as T), reject, timer });
      this.process.send({ id, cmd, args });
    });
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<Exit> {
    if (this.alive) this.process.kill(signal);
    return this.exited;
  }

  /**
   * Ends the child: closing the IPC channel makes it exit on its own (so `--cpu-prof` writes
   * its profile); one that has not exited within `graceMs` is killed.
   */
  async stop(graceMs: number): Promise<Exit> {
    if (!this.alive) return this.exited;
    if (this.process.connected) this.process.disconnect();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
    const outcome = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    return outcome === 'late' ? this.kill() : outcome;
  }

  output(): string {
    return this.#output.text();
  }

  #describeOutput(): string {
    const text = this.#output.text().trim();
    return text === '' ? '' : `; its last output:\n${text}`;
  }

  #reply(message: unknown): void {
    if (typeof message !== 'object' || message === null || !('id' in message) || !('ok' in message)) return;
    const reply = message as Reply;
    const pending = this.#pending.get(reply.id);
    if (!pending) return;
    this.#pending.delete(reply.id);
    clearTimeout(pending.timer);
    if (reply.ok) pending.resolve(reply.value);
    else pending.reject(new Error(`${this.name}: ${reply.error}`));
  }
}
