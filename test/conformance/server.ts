/**
 * The server the conformance cases talk to: echoes every message, closes on "close:CODE:REASON",
 * and picks the first offered subprotocol. On 127.0.0.1, an ephemeral port.
 */
import { WebSocketServer } from 'ws';

export interface CaseServer {
  readonly url: string;
  close(): Promise<void>;
}

export async function startCaseServer(): Promise<CaseServer> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (offered) => [...offered][0] ?? false });
  server.on('connection', (socket) => {
    socket.on('error', () => undefined);
    socket.on('message', (data, isBinary) => {
      const text = isBinary ? '' : data.toString();
      const command = /^close:(\d+):(.*)$/.exec(text);
      if (command) socket.close(Number(command[1]), command[2]);
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
        server.close(() => resolve());
      }),
  };
}
