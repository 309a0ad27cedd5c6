// Type-checked against the built declarations by test/package/declarations.test.ts as a Node
// project compiles them: `NodeNext`, skipLibCheck: false, @types/node and no DOM lib (a server's
// usual tsconfig). Every entry must type-check there, the Node client's included; never run.
import { createServer } from 'lifeline/server';
import { LifelineClient, ReconnectingWebSocket, type NodeClientOptions, type NodeLifelineClientOptions, type RequestOptions, type SocketOptions, type SocketOptionsSource } from 'lifeline/client';
import { FakeClock, startServer } from 'lifeline/testing';
import { RedisBroker } from 'lifeline/redis';

const socketOptions: SocketOptionsSource = async ({ authRequired }): Promise<SocketOptions> => ({ headers: { authorization: authRequired ? 'fresh' : 'cached' } });
const options: NodeClientOptions = { socketOptions, maxAttempts: 3 };
const lifelineOptions: NodeLifelineClientOptions = { socketOptions };
const requestOptions: RequestOptions = { signal: AbortSignal.timeout(1000) };

export function connect(url: string): void {
  const socket = new ReconnectingWebSocket(url, undefined, options);
  socket.addEventListener('close', (event) => console.log(event.code), { once: true });
  const client = new LifelineClient(url, lifelineOptions);
  void client.request('rooms.list', undefined, requestOptions);
  // No `any` in public types: a message's data is typed here too, where @types/node's MessageEvent is not generic.
  socket.addEventListener('message', (event) => {
    const data: string | ArrayBuffer | Blob = event.data;
    // @ts-expect-error the data is a string, an ArrayBuffer or a Blob, not any
    const wrong: number = event.data;
    void [data, wrong];
  });
  void socket.opened({ signal: AbortSignal.timeout(1000) });
}

export const unused = [createServer, FakeClock, startServer, RedisBroker] as const;
