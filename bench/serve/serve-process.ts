// `lifeline serve` as its own process, as operators run it, for the load and soak runs: started
// on a free port with an API key for publishing, read through /healthz and /metrics and
// /proc, killed on every path (normal end, an error, Ctrl-C, the parent's exit).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

const living = new Set<ChildProcess>();
let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const child of living) child.kill('SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => process.exit(130));
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

export interface Timed<T> {
  readonly ms: number;
  readonly ok: boolean;
  readonly value?: T;
}

/**
 * A GET to 127.0.0.1:`port` with a deadline, on a connection of its own that closes after the
 * answer (so probes leave no socket open in the server): how long it took and whether it
 * answered 200.
 */
export function httpGet(port: number, path: string, timeoutMs: number): Promise<Timed<string>> {
  const started = performance.now();
  return new Promise((resolve) => {
    const request = get({ host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ ms: performance.now() - started, ok: response.statusCode === 200, value: text }));
      response.on('error', () => resolve({ ms: performance.now() - started, ok: false }));
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve({ ms: performance.now() - started, ok: false }));
  });
}

/** Open sockets (file descriptors that are sockets) of process `pid`, from /proc; NaN where it cannot be read. */
export function socketsOf(pid: number): number {
  try {
    let count = 0;
    const dir = `/proc/${pid}/fd`;
    for (const fd of readdirSync(dir)) {
      try {
        if (readlinkSync(`${dir}/${fd}`).startsWith('socket:')) count++;
      } catch {
        // closed meanwhile
      }
    }
    return count;
  } catch {
    return NaN;
  }
}

export class ServeProcess {
  readonly apiKey = randomBytes(18).toString('base64url');
  #output = '';

  private constructor(
    readonly port: number,
    private readonly child: ChildProcess,
  ) {
    const keep = (chunk: Buffer): void => {
      this.#output = (this.#output + chunk.toString('utf8')).slice(-4000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }

  /** Starts `lifeline serve` with `flags` (plus port, host, API key) and waits for /healthz. */
  static async start(flags: readonly string[], nodeFlags: readonly string[] = []): Promise<ServeProcess> {
    hookExit();
    const port = await freePort();
    const apiKey = randomBytes(18).toString('base64url');
    const child = spawn(process.execPath, [...nodeFlags, CLI, 'serve', '--host', '127.0.0.1', '--port', String(port), '--log-level', 'error', ...flags], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LIFELINE_API_KEY: apiKey },
    });
    living.add(child);
    child.once('exit', () => living.delete(child));
    const server = new ServeProcess(port, child);
    Object.defineProperty(server, 'apiKey', { value: apiKey });
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`lifeline serve exited (${child.exitCode}): ${server.#output}`);
      if ((await server.get('/healthz', 1000)).ok) return server;
      if (Date.now() > deadline) {
        server.kill();
        throw new Error(`lifeline serve did not answer /healthz within 20 s: ${server.#output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  output(): string {
    return this.#output;
  }

  /** A GET to this server with a deadline (see {@link httpGet}). */
  get(path: string, timeoutMs: number): Promise<Timed<string>> {
    return httpGet(this.port, path, timeoutMs);
  }

  /** Publishes `data` through the HTTP API; true when the server took it. */
  async publish(channel: string, data: unknown, timeoutMs: number): Promise<boolean> {
    try {
      const response = await fetch(`http://127.0.0.1:${this.port}/api/v1/channels/${encodeURIComponent(channel)}/publish`, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ data }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      await response.arrayBuffer();
      return response.ok;
    } catch {
      return false;
    }
  }

  /** The samples of /metrics by name (labels folded into the name: `name{a="b"}`). */
  async metrics(timeoutMs: number): Promise<Map<string, number> | undefined> {
    const answer = await this.get('/metrics', timeoutMs);
    if (!answer.ok || answer.value === undefined) return undefined;
    const samples = new Map<string, number>();
    for (const line of answer.value.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      const space = line.lastIndexOf(' ');
      samples.set(line.slice(0, space), Number(line.slice(space + 1)));
    }
    return samples;
  }

  /** Resident set size now, bytes (Linux /proc). */
  rss(): number {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : NaN;
  }

  /** Open sockets of the server process (see {@link socketsOf}). */
  sockets(): number {
    return socketsOf(this.pid);
  }

  /** Sends `signal` to the server process (the soak's full-GC hook listens for SIGUSR2). */
  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

