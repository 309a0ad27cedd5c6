/**
 * A private HAProxy for tests: round-robin HTTP/WebSocket proxying to the given backends, with
 * health checks on /readyz, on a free loopback port; its config in a temp dir. `stop()` kills it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { within } from './wait.js';

const onPath = (command: string): boolean => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
// Debian installs it in /usr/sbin, which a non-root PATH often lacks.
const binary = process.env.LIFELINE_HAPROXY ?? (onPath('haproxy') || !existsSync('/usr/sbin/haproxy') ? 'haproxy' : '/usr/sbin/haproxy');
const installed = onPath(binary);

/** `skip` option: a reason when haproxy is missing (never on CI, where the tests then fail). */
export const haproxySkip: string | false = installed || process.env.CI === 'true' ? false : `${binary} not installed (apt-get install -y haproxy)`;

export class HaProxy {
  readonly #child: ChildProcess;
  readonly #dir: string;
  /** What haproxy printed (health-check state changes among it). */
  output = '';

  private constructor(readonly port: number, backends: readonly number[]) {
    this.#dir = mkdtempSync(join(tmpdir(), 'lifeline-haproxy-'));
    const config = join(this.#dir, 'haproxy.cfg');
    writeFileSync(
      config,
      [
        'global',
        '  maxconn 2000',
        'defaults',
        '  mode http',
        '  timeout connect 2s',
        '  timeout client 30s',
        '  timeout server 30s',
        '  timeout tunnel 1h',
        'frontend lifeline',
        `  bind 127.0.0.1:${port}`,
        '  default_backend nodes',
        'backend nodes',
        '  balance roundrobin',
        '  option httpchk GET /readyz',
        '  http-check expect status 200',
        '  default-server inter 200ms fall 2 rise 2',
        ...backends.map((backend, i) => `  server n${i + 1} 127.0.0.1:${backend} check`),
        '',
      ].join('\n'),
    );
    this.#child = spawn(binary, ['-db', '-f', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (chunk: Buffer): void => {
      this.output += chunk.toString();
    };
    this.#child.stdout?.on('data', collect);
    this.#child.stderr?.on('data', collect);
  }

  static async start(backends: readonly number[]): Promise<HaProxy> {
    const proxy = new HaProxy(await freePort(), backends);
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Resolves once haproxy has printed a line matching `pattern` (a health-check state change). */
  async printed(pattern: RegExp, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pattern.test(this.output)) {
      if (Date.now() > deadline) throw new Error(`haproxy did not print ${pattern} within ${ms} ms: ${this.output.slice(-800)}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGKILL');
      await within(exited, 5_000, 'haproxy exit');
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
