/**
 * A private redis-server process for tests that stop, kill or restart Redis (the shared server
 * on 6379 is never disturbed). No persistence: a restart comes back empty, as a Redis without
 * AOF/RDB does after a crash.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { killProcess, spawnTracked } from './processes.js';
import { within } from './wait.js';

const binary = process.env.LIFELINE_REDIS_SERVER ?? 'redis-server';
const installed = spawnSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' }).status === 0;

/** `skip` option: a reason when redis-server is missing (never on CI, where the tests then fail). */
export const redisServerSkip: string | false = installed || process.env.CI === 'true' ? false : `${binary} not installed (apt-get install -y redis-server)`;

export class RedisServer {
  #process: ChildProcess | undefined;
  readonly #dir = mkdtempSync(join(tmpdir(), 'lifeline-redis-'));

  private constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts a redis-server on a free port; resolves once it accepts connections. */
  static async start(): Promise<RedisServer> {
    const server = new RedisServer(await freePort());
    await server.restart();
    return server;
  }

  /** Starts it again on the same port (empty). */
  async restart(): Promise<void> {
    if (this.#process) throw new Error('redis-server is running');
    mkdirSync(this.#dir, { recursive: true });
    // Its files (an explicit SAVE) go to a temp dir; DEBUG lets a test reload an older copy.
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--dir', this.#dir, '--enable-debug-command', 'yes'];
    const child = spawnTracked(binary, args);
    this.#process = child;
    let output = '';
    const ready = new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${output.slice(-500)}`)));
    });
    await within(ready, 30_000, 'redis-server ready').catch(async (error: unknown) => {
      this.#process = undefined;
      await killProcess(child);
      throw error;
    });
  }

  /** SIGSTOPs it: its connections stay open and nothing is answered (a hung server) until {@link resume}; {@link kill} ends it stopped or not. */
  pause(): void {
    this.#signal('SIGSTOP');
  }

  resume(): void {
    this.#signal('SIGCONT');
  }

  #signal(signal: NodeJS.Signals): void {
    if (!this.#process?.kill(signal)) throw new Error(`redis-server ${this.port} is not running`);
  }

  /** Kills it at once (SIGKILL: no goodbye to clients); resolves once it is gone. */
  async kill(): Promise<void> {
    const child = this.#process;
    if (!child) return;
    this.#process = undefined;
    await killProcess(child);
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
