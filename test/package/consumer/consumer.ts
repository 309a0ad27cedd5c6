// A consumer of the installed tarball, type-checked with skipLibCheck: false under `nodenext`,
// `bundler` and `node10` resolution (test/package/tarball.test.ts). It is never run.
import { CloseCode, createServer, type LifelineServer } from 'lifeline/server';
import { LifelineClient, ReconnectingWebSocket, type Position } from 'lifeline/client';
import { FakeClock, startServer, type ServerFixture } from 'lifeline/testing';
import { RedisBroker } from 'lifeline/redis';

export async function roundTrip(): Promise<Position> {
  const fixture: ServerFixture<unknown> = await startServer({ channels: { chat: {} }, pingInterval: 0 });
  const server: LifelineServer<unknown> = fixture.server;
  const client = new LifelineClient(fixture.wsUrl);
  const subscription = client.subscribe('chat:room', { event: (event) => console.log(event.data) });
  await subscription.ready();
  const position = await client.publish('chat:room', { text: 'hi' });
  client.close();
  await server.close({ code: CloseCode.SERVICE_RESTART });
  return position;
}

export const unused = [createServer, ReconnectingWebSocket, FakeClock, RedisBroker] as const;
