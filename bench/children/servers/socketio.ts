// Socket.IO 4 as its users write it: websocket transport only, a room per channel and
// `io.to(room).emit(...)` for fan-out (Socket.IO encodes and frames a broadcast once).
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { FANOUT_CHANNEL, type BenchServer, type ListenConfig, eventData } from './bench-server.js';

export class SocketIoBench implements BenchServer {
  #io: Server | undefined;
  readonly #history: { readonly seq: number; readonly body: string }[] = [];
  #head = 0;

  listen(config: ListenConfig, onAccept: () => void): Promise<number> {
    this.#head = config.prepublish;
    const http = createServer();
    const io = new Server(http, { transports: ['websocket'], serveClient: false });
    this.#io = io;
    io.on('connection', (socket) => {
      onAccept();
      socket.on('echo', (message: unknown) => socket.emit('echo', message));
      socket.on('echoAck', (message: unknown, ack: unknown) => {
        if (typeof ack === 'function') ack(message);
      });
      socket.on('join', (room: unknown, ack: unknown) => {
        if (typeof room === 'string') void socket.join(room);
        if (typeof ack === 'function') ack({ head: this.#head });
      });
      socket.on('replay', (since: unknown) => {
        for (const event of this.#history) if (event.seq > Number(since)) socket.emit('event', event);
      });
    });
    return new Promise((resolve) => http.listen(config.port, '127.0.0.1', () => resolve((http.address() as { port: number }).port)));
  }

  publish(seq: number, body: string, t?: number): void {
    this.#require().to(FANOUT_CHANNEL).emit('event', eventData(seq, body, t));
  }

  async fillHistory(events: number, body: string): Promise<{ readonly epoch: string }> {
    for (let seq = 1; seq <= events; seq++) this.#history.push({ seq, body });
    return { epoch: '' };
  }

  connections(): number {
    return this.#require().engine.clientsCount;
  }

  async shutdown(): Promise<void> {
    this.#require().close();
  }

  #require(): Server {
    if (!this.#io) throw new Error('not listening');
    return this.#io;
  }
}
