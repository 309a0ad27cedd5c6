// Shared pieces of the client-command tests (not a test file): a `lifeline connect` or `probe`
// process read line by line, and small servers that answer the way a test needs. Every wait
// has a deadline.
import { once } from 'node:events';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { spawnCli, type CliProcess, type Exit } from './harness.js';
import { within } from '../helpers/wait.js';

/** A running CLI whose stdout is matched line by line, in order. */
export class LineReader {
  #cursor = 0;

  constructor(readonly cli: CliProcess) {}

  /** Complete stdout lines so far. */
  lines(): string[] {
    const text = this.cli.stdout();
    const end = text.lastIndexOf('\n');
    return end < 0 ? [] : text.slice(0, end).split('\n');
  }

  /**
   * The first line after the last one matched that matches `pattern`; waits for it (or fails
   * after `ms`, showing what was printed).
   */
  next(pattern: RegExp, ms = 60_000): Promise<string> {
    const find = (): string | undefined => {
      const lines = this.lines();
      for (let i = this.#cursor; i < lines.length; i++) {
        const line = lines[i] ?? '';
        if (pattern.test(line)) {
          this.#cursor = i + 1;
          return line;
        }
      }
      return undefined;
    };
    return within(
      new Promise<string>((resolve, reject) => {
        const check = (): void => {
          const line = find();
          if (line === undefined) return;
          this.cli.child.stdout.off('data', check);
          resolve(line);
        };
        this.cli.child.stdout.on('data', check);
        void this.cli.exited.then(() => {
          // Everything is in once the process has closed its streams.
          const line = find();
          if (line !== undefined) resolve(line);
          else reject(new Error(`exited without a line matching ${pattern}; stdout:\n${this.cli.stdout()}\nstderr:\n${this.cli.stderr()}`));
        });
        check();
      }),
      ms,
      `a line matching ${pattern} (stdout so far:\n${this.cli.stdout()}\nstderr:\n${this.cli.stderr()})`,
    );
  }

  /**
   * One line for each pattern, in any order, after the last line matched (for events whose
   * order is the server's, like an ack and the event it caused); returns them in pattern order.
   */
  async unordered(patterns: readonly RegExp[], ms = 60_000): Promise<string[]> {
    const start = this.#cursor;
    const found = (): { lines: string[]; last: number } | undefined => {
      const lines = this.lines();
      const taken = new Set<number>();
      const matched: string[] = [];
      for (const pattern of patterns) {
        let index = -1;
        for (let i = start; i < lines.length; i++) {
          if (!taken.has(i) && pattern.test(lines[i] ?? '')) {
            index = i;
            break;
          }
        }
        if (index < 0) return undefined;
        taken.add(index);
        matched.push(lines[index] ?? '');
      }
      return { lines: matched, last: Math.max(...taken) };
    };
    const result = await within(
      new Promise<{ lines: string[]; last: number }>((resolve, reject) => {
        const check = (): void => {
          const hit = found();
          if (!hit) return;
          this.cli.child.stdout.off('data', check);
          resolve(hit);
        };
        this.cli.child.stdout.on('data', check);
        void this.cli.exited.then(() => {
          const hit = found();
          if (hit) resolve(hit);
          else reject(new Error(`exited without lines matching ${patterns.join(', ')}; stdout:\n${this.cli.stdout()}`));
        });
        check();
      }),
      ms,
      `lines matching ${patterns.join(', ')} (stdout so far:\n${this.cli.stdout()})`,
    );
    this.#cursor = result.last + 1;
    return result.lines;
  }

  /** Types one line into the command. */
  send(line: string): void {
    this.cli.child.stdin.write(`${line}\n`);
  }

  /** Ends input (Ctrl-D). */
  end(): void {
    this.cli.child.stdin.end();
  }

  exited(ms = 60_000): Promise<Exit> {
    return within(this.cli.exited, ms, 'the CLI to exit');
  }
}

export function startConnect(args: readonly string[], env: Readonly<Record<string, string>> = {}): LineReader {
  return new LineReader(spawnCli(['connect', ...args], env));
}

/** A bare `ws` server on 127.0.0.1; `onConnection` decides what each connection gets. */
export async function wsServer(onConnection: (socket: WebSocket, index: number) => void): Promise<{ url: string; wss: WebSocketServer; close(): Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await within(once(wss, 'listening'), 5_000, 'the ws server to listen');
  let count = 0;
  wss.on('connection', (socket) => {
    socket.on('error', () => undefined);
    onConnection(socket, count++);
  });
  const { port } = wss.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/`,
    wss,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await within(new Promise<void>((resolve) => wss.close(() => resolve())), 5_000, 'the ws server to close');
    },
  };
}

/** Echoes every message back as it came (text as text). */
export function echo(socket: WebSocket): void {
  socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
}

/** A plain HTTP server that answers every upgrade request with `response` (raw HTTP/1.1 text). */
export async function rawUpgradeServer(response: string): Promise<{ port: number; close(): Promise<void> }> {
  const server: HttpServer = createHttpServer((_request, res) => res.writeHead(404).end());
  server.on('upgrade', (_request, socket) => {
    socket.on('error', () => undefined);
    socket.end(response);
  });
  return listen(server);
}

/** A TCP server that accepts and then never says a word (a stalled endpoint). */
export async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<import('node:net').Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  const listening = await listen(server);
  return {
    port: listening.port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await listening.close();
    },
  };
}

/** A port nothing listens on: bound, then released. */
export async function closedPort(): Promise<number> {
  const { port, close } = await listen(createNetServer());
  await close();
  return port;
}

async function listen(server: NetServer | HttpServer): Promise<{ port: number; close(): Promise<void> }> {
  server.listen(0, '127.0.0.1');
  await within(once(server, 'listening'), 5_000, 'the server to listen');
  const { port } = server.address() as AddressInfo;
  return { port, close: () => within(new Promise<void>((resolve) => server.close(() => resolve())), 5_000, 'the server to close') };
}
