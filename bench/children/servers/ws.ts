// Raw `ws` as its users write it: a Set of sockets, a JSON switch on the message type, and the
// naive broadcast loop that serializes and frames the event once per socket.
import { createServer, type Server } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { FANOUT_CHANNEL, type BenchServer, type ListenConfig } from './bench-server.js';

interface Stored {
  readonly type: 'event';
  readonly channel: string;
  readonly seq: number;
  readonly data: unknown;
}

export class WsBench implements BenchServer {
  readonly #sockets = new Set<WebSocket>();
  readonly #history: Stored[] = [];
  #head = 0;
  #http: Server | undefined;

  listen(config: ListenConfig, onAccept: () => void): Promise<number> {
    this.#head = config.prepublish;
    const http = createServer();
    this.#http = http;
    const wss = new WebSocketServer({ server: http, path: '/ws' });
    wss.on('connection', (socket) => {
      onAccept();
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
      socket.on('error', () => undefined);
      socket.on('message', (data) => this.#message(socket, String(data)));
    });
    return new Promise((resolve) => http.listen(config.port, '127.0.0.1', () => resolve((http.address() as { port: number }).port)));
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

  publish(seq: number, body: string): void {
    const message = { type: 'event', channel: FANOUT_CHANNEL, data: { seq, body } };
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
    for (const socket of this.#sockets) socket.close(1001);
    this.#http?.close();
  }
}
