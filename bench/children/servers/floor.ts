// The floor: the same fan-out written straight to `net` sockets, the upgrade done by hand and
// each event framed once for everyone. No framework does less, so it is the practical limit of
// one Node process on this machine.
import { createServer, type Socket } from 'node:net';
import { acceptKey, FrameReader, Opcode, serverFrame, startsWith } from '../../wire/frame.js';
import { FANOUT_CHANNEL, type BenchServer, type ListenConfig, eventData } from './bench-server.js';

const ECHO = Buffer.from('{"type":"echo"');
const MAX_HEAD = 8192;

export class FloorBench implements BenchServer {
  readonly #sockets = new Set<Socket>();

  listen(config: ListenConfig, onAccept: () => void): Promise<number> {
    const server = createServer((socket) => {
      socket.setNoDelay(true);
      socket.on('error', () => undefined);
      let head = '';
      const onHead = (chunk: Buffer): void => {
        head += chunk.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end === -1) {
          if (head.length > MAX_HEAD) socket.destroy();
          return;
        }
        socket.off('data', onHead);
        const key = /^sec-websocket-key:[ \t]*(\S+)/im.exec(head.slice(0, end))?.[1];
        if (key === undefined) {
          socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
          return;
        }
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`);
        this.#sockets.add(socket);
        socket.once('close', () => this.#sockets.delete(socket));
        onAccept();
        const reader = new FrameReader((opcode, payload) => {
          if (opcode === Opcode.TEXT && startsWith(payload, ECHO)) socket.write(serverFrame(Opcode.TEXT, payload));
          else if (opcode === Opcode.CLOSE) socket.end(serverFrame(Opcode.CLOSE, payload.subarray(0, 2)));
        });
        socket.on('data', (data: Buffer) => reader.push(data));
        const rest = Buffer.from(head.slice(end + 4), 'latin1');
        if (rest.length > 0) reader.push(rest);
      };
      socket.on('data', onHead);
    });
    return new Promise((resolve) => server.listen(config.port, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
  }

  publish(seq: number, body: string, t?: number): void {
    const frame = serverFrame(Opcode.TEXT, Buffer.from(JSON.stringify({ type: 'event', channel: FANOUT_CHANNEL, data: eventData(seq, body, t) })));
    for (const socket of this.#sockets) socket.write(frame);
  }

  async fillHistory(): Promise<{ readonly epoch: string }> {
    throw new Error('the floor has no history');
  }

  connections(): number {
    return this.#sockets.size;
  }

  async shutdown(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
  }
}
