/**
 * The server the conformance cases talk to: echoes every message, closes on "close:CODE:REASON",
 * and picks the first offered subprotocol. "hold:KEY" sends a close frame (1000 "held") and keeps
 * the TCP connection open (the client stays in the closing handshake) until "release:KEY" comes
 * on any connection, or 10 s pass; "drop" ends the TCP connection with no close frame (1006).
 * On 127.0.0.1, an ephemeral port.
 */
import type { Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface CaseServer {
  readonly url: string;
  close(): Promise<void>;
}

/** How long a held connection waits for its release at most. */
const HOLD_LIMIT = 10_000;

/**
 * Sends a close frame by hand on `socket`'s TCP connection and takes the connection from ws, which
 * would end it as soon as the client answers: what the client sends is read and dropped.
 */
function closeAndHold(socket: WebSocket): Socket {
  const tcp = (socket as unknown as { _socket: Socket })._socket;
  tcp.removeAllListeners('data').removeAllListeners('end').on('data', () => undefined);
  const payload = Buffer.from([0x03, 0xe8, ...Buffer.from('held')]); // 1000 "held"
  tcp.write(Buffer.concat([Buffer.from([0x88, payload.length]), payload]));
  return tcp;
}

export async function startCaseServer(): Promise<CaseServer> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (offered) => [...offered][0] ?? false });
  const held = new Map<string, Socket>();
  server.on('connection', (socket) => {
    socket.on('error', () => undefined);
    socket.on('message', (data, isBinary) => {
      const text = isBinary ? '' : data.toString();
      const [command, argument = ''] = text.split(':', 2);
      const close = /^close:(\d+):(.*)$/.exec(text);
      if (close) socket.close(Number(close[1]), close[2]);
      else if (command === 'hold') {
        const tcp = closeAndHold(socket);
        held.set(argument, tcp);
        const limit = setTimeout(() => tcp.destroy(), HOLD_LIMIT);
        tcp.once('close', () => (clearTimeout(limit), held.delete(argument)));
      } else if (command === 'release') held.get(argument)?.end();
      else if (command === 'drop') (socket as unknown as { _socket: Socket })._socket.destroy();
      else socket.send(data, { binary: isBinary });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `ws://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate();
        for (const tcp of held.values()) tcp.destroy();
        server.close(() => resolve());
      }),
  };
}
