// Raw `ws` as its users write it: a Set of sockets, a JSON switch on the message type, and the
// naive broadcast loop that serializes and frames the event once per socket; with `heartbeat`,
// the ping/terminate loop users add.
import { createServer, type Server } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { answerHealth, FANOUT_CHANNEL, type BenchServer, type ListenConfig, eventData } from './bench-server.js';

/** ws has no heartbeat of its own; 30 s is the interval its documentation's example uses. */
const HEARTBEAT_MS = 30_000;

interface Stored {
  readonly type: 'event';
  readonly channel: string;
  readonly seq: number;
  readonly data: unknown;
}

export class WsBench implements BenchServer {
  readonly #sockets = new Set<WebSocket>();
  /** Sockets that answered since the last heartbeat ping. */
  readonly #alive = new Set<WebSocket>();
  #heartbeat: NodeJS.Timeout | undefined;
  readonly #history: Stored[] = [];
  #head = 0;
  #http: Server | undefined;

  listen(config: ListenConfig, onAccept: () => void): Promise<number> {
    this.#head = config.prepublish;
    const http = createServer(answerHealth);
    this.#http = http;
    const wss = new WebSocketServer({ server: http, path: '/ws' });
    wss.on('connection', (socket) => {
      onAccept();
      this.#sockets.add(socket);
      this.#alive.add(socket);
      socket.on('pong', () => this.#alive.add(socket));
      socket.on('close', () => {
        this.#sockets.delete(socket);
        this.#alive.delete(socket);
      });
      socket.on('error', () => undefined);
      socket.on('message', (data) => this.#message(socket, String(data)));
    });
    if (config.heartbeat) {
      this.#heartbeat = setInterval(() => this.#beat(), HEARTBEAT_MS);
      http.once('close', () => clearInterval(this.#heartbeat));
    }
    return new Promise((resolve) => http.listen(config.port, '127.0.0.1', () => resolve((http.address() as { port: number }).port)));
  }

  /** The usual ws heartbeat: terminate a socket that did not answer the last ping, ping the others. */
  #beat(): void {
    for (const socket of this.#sockets) {
      if (!this.#alive.delete(socket)) socket.terminate();
      else socket.ping();
    }
  }

  #message(socket: WebSocket, text: string): void {
    const message = JSON.parse(text) as { type?: string; since?: number };
    switch (message.type) {
      case 'echo':
        socket.send(JSON.stringify(message));
        break;
      case 'sub':
        socket.send(JSON.stringify({ type: 'subbed', head: this.#head }));
        break;
      case 'replay':
        for (const event of this.#history) if (event.seq > (message.since ?? 0)) socket.send(JSON.stringify(event));
        break;
    }
  }

  publish(seq: number, body: string, t?: number): void {
    const message = { type: 'event', channel: FANOUT_CHANNEL, data: eventData(seq, body, t) };
    for (const socket of this.#sockets) socket.send(JSON.stringify(message));
  }

  async fillHistory(events: number, body: string): Promise<{ readonly epoch: string }> {
    for (let seq = 1; seq <= events; seq++) this.#history.push({ type: 'event', channel: 'bench:catchup', seq, data: { seq, body } });
    return { epoch: '' };
  }

  connections(): number {
    return this.#sockets.size;
  }

  async shutdown(): Promise<void> {
    clearInterval(this.#heartbeat);
    for (const socket of this.#sockets) socket.close(1001);
    this.#http?.close();
  }
}
