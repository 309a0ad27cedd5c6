// Drives the built CLI (dist/cli/main.js) as a child process. Every wait is on an event with a
// deadline; every child is tracked so `stopAll` (run in each file's `after`) leaves none behind.
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { killProcess, spawnTracked } from '../helpers/processes.js';
import { within } from '../helpers/wait.js';

export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface CliProcess {
  readonly child: ChildProcessWithoutNullStreams;
  readonly exited: Promise<Exit>;
  stdout(): string;
  stderr(): string;
  /** Resolves once stderr contains `text` (log lines are JSON, so match on a message). */
  stderrIncludes(text: string, ms?: number): Promise<void>;
}

const children = new Set<ChildProcessWithoutNullStreams>();

/** Env without the developer's own LIFELINE_* settings, plus `env`. */
function cleanEnv(env: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('LIFELINE_')));
  return { ...base, ...env };
}

export function spawnCli(args: readonly string[], env: Readonly<Record<string, string>> = {}): CliProcess {
  const child = spawnTracked(process.execPath, [CLI, ...args], { cwd: ROOT, env: cleanEnv(env) });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exited = new Promise<Exit>((resolve) => {
    // 'close', not 'exit': it comes after stdout and stderr have delivered everything.
    child.once('close', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
  });
  const stderrIncludes = (text: string, ms = 60_000): Promise<void> =>
    within(
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (!err.includes(text)) return;
          child.stderr.off('data', check);
          resolve();
        };
        child.stderr.on('data', check);
        check();
      }),
      ms,
      `stderr to include ${JSON.stringify(text)}`,
    );
  return { child, exited, stdout: () => out, stderr: () => err, stderrIncludes };
}

/** Runs the CLI to completion (for --help and usage errors). */
export async function runCli(args: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<Exit & { stdout: string; stderr: string }> {
  const cli = spawnCli(args, env);
  const exit = await within(cli.exited, 60_000, `lifeline ${args.join(' ')} to exit`).catch(async (error: unknown) => {
    await killProcess(cli.child);
    throw error;
  });
  return { ...exit, stdout: cli.stdout(), stderr: cli.stderr() };
}

/**
 * Runs the CLI's dispatch (src/cli/cli.ts, what dist/cli/main.js binds to the process) in this
 * process, with its own stdout, stderr and env: for usage errors, help and `probe`, where a
 * process would add nothing but its startup (about 0.3 s of CPU each). The exit code is the one
 * the bin exits with. A few tests per command still run the built bin itself (runCli) for that
 * binding, and for what only a process has (NODE_EXTRA_CA_CERTS, signals).
 */
export async function runCliInProcess(args: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<Exit & { stdout: string; stderr: string }> {
  const { runCli: dispatch } = await import('../../src/cli/cli.js');
  let stdout = '';
  let stderr = '';
  const sink = (append: (text: string) => void): Writable =>
    new Writable({
      write(chunk: Buffer | string, _encoding, done): void {
        append(String(chunk));
        done();
      },
    });
  const io = { stdout: sink((text) => (stdout += text)), stderr: sink((text) => (stderr += text)), env: cleanEnv(env) };
  const code = await within(dispatch(args, io), 60_000, `lifeline ${args.join(' ')} (in this process) to return`);
  return { code, signal: null, stdout, stderr };
}

export interface RunningServer extends CliProcess {
  /** `http://127.0.0.1:PORT`, from the "listening on" line. */
  readonly url: string;
  wsUrl(path?: string): string;
}

/** Starts `lifeline serve ...args` and resolves once it prints its "listening on" line. */
export async function startServe(args: readonly string[] = ['--port', '0'], env: Readonly<Record<string, string>> = {}): Promise<RunningServer> {
  const cli = spawnCli(['serve', ...args], env);
  const listening = new Promise<string>((resolve, reject) => {
    const check = (): void => {
      const match = /^listening on (http:\/\/\S+)\n/.exec(cli.stdout());
      if (match?.[1] !== undefined) resolve(match[1]);
    };
    cli.child.stdout.on('data', check);
    void cli.exited.then((exit) => reject(new Error(`lifeline serve exited (${exit.code ?? exit.signal}) before listening: ${cli.stderr()}`)));
  });
  // Generous: on a busy machine a cold start (loading every module) can take seconds. On any
  // failure the child is killed here, not left to the file's `after`.
  const url = await within(listening, 60_000, 'lifeline serve to print "listening on"').catch(async (error: unknown) => {
    await killProcess(cli.child);
    throw error;
  });
  return { ...cli, url, wsUrl: (path = '/ws') => `${url.replace(/^http/, 'ws')}${path}` };
}

/** Kills whatever a test left running (SIGKILL: by now nothing graceful is being tested). */
export async function stopAll(): Promise<void> {
  const running = [...children];
  const closed = running.map((child) => once(child, 'close'));
  await Promise.all(running.map((child) => killProcess(child)));
  await within(Promise.all(closed), 5_000, 'children to close');
}

/** A `ws` client whose JSON messages (minus app pings) are collected for `next`. */
export class TestClient {
  readonly messages: Record<string, unknown>[] = [];
  readonly #waiters = new Set<() => void>();

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const message = JSON.parse(String(data)) as Record<string, unknown>;
      if (message.type === 'ping') return;
      this.messages.push(message);
      for (const wake of this.#waiters) wake();
    });
  }

  static async connect(url: string): Promise<TestClient> {
    const ws = new WebSocket(url);
    const client = new TestClient(ws);
    await within(once(ws, 'open'), 5_000, `${url} to open`);
    return client;
  }

  send(message: unknown): void {
    this.ws.send(JSON.stringify(message));
  }

  /** The first collected message (taken out of the list) that matches; waits for it if needed. */
  next(match: (message: Record<string, unknown>) => boolean, what: string, ms = 5_000): Promise<Record<string, unknown>> {
    return within(
      new Promise((resolve) => {
        const check = (): void => {
          const index = this.messages.findIndex(match);
          if (index < 0) return;
          this.#waiters.delete(check);
          resolve(this.messages.splice(index, 1)[0] ?? {});
        };
        this.#waiters.add(check);
        check();
      }),
      ms,
      what,
    );
  }

  ofType(type: string, ms?: number): Promise<Record<string, unknown>> {
    return this.next((message) => message.type === type, `a "${type}" message`, ms);
  }

  closed(ms = 15_000): Promise<{ code: number; reason: string }> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.reject(new Error('already closed'));
    return within(
      once(this.ws, 'close').then(([code, reason]) => ({ code: code as number, reason: String(reason) })),
      ms,
      'the socket to close',
    );
  }
}
