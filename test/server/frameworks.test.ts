// Lifeline attached to the http server of a real Express and a real Fastify app, as
// docs/how-to/embedding.md shows: the app's routes and the WebSocket endpoint on one port, and a
// shutdown in the documented order that ends (the clients told 1001).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import express from 'express';
import Fastify from 'fastify';
import { pino } from 'pino';
import { LifelineClient } from '../../src/client/node.js';
import { createServer, type LifelineServer } from '../../src/server/index.js';
import { RawSocket } from '../helpers/raw-socket.js';
import { until, within } from '../helpers/wait.js';

const quiet = pino({ level: 'silent' });
const channels = { chat: {} };

/** A subscribed client gets an event the server publishes; the HTTP route answers on the same port. */
async function exercise(t: TestContext, lifeline: LifelineServer<unknown>, port: number): Promise<LifelineClient> {
  const route = await within(fetch(`http://127.0.0.1:${port}/api/hello`), 5_000, 'the route');
  assert.deepEqual(await route.json(), { hello: 'world' });
  const client = new LifelineClient(`ws://127.0.0.1:${port}/ws`, { initialDelay: 10, maxDelay: 50 });
  t.after(() => client.close());
  const got: unknown[] = [];
  const room = client.subscribe('chat:lobby', { event: (e) => got.push(e.data) });
  await within(room.ready(), 5_000, 'subscribed');
  await lifeline.publish('chat:lobby', { from: 'server' });
  await within(until(room, 'event', () => got.length === 1), 5_000, 'the event');
  assert.deepEqual(got, [{ from: 'server' }]);
  // Another upgrade path: no other upgrade listener, so Lifeline refuses it.
  const raw = await RawSocket.request(port, { path: '/elsewhere' });
  t.after(() => raw.destroy());
  assert.equal((await raw.readResponse()).status, 404);
  return client;
}

describe('embedded in a framework', () => {
  test('Express: routes and /ws on one port; lifeline.close() then the http server closes', async (t) => {
    const app = express();
    app.get('/api/hello', (_request, response) => {
      response.json({ hello: 'world' });
    });
    const http = app.listen(0, '127.0.0.1');
    await within(once(http, 'listening'), 5_000, 'listening');
    const lifeline = createServer({ server: http, path: '/ws', logger: quiet, channels });
    let shut = false;
    t.after(async () => {
      if (shut) return;
      await lifeline.close({ drainTimeout: 0 });
      http.closeAllConnections();
      http.close();
    });
    const client = await exercise(t, lifeline, (http.address() as AddressInfo).port);
    const closed = until(client.transport, 'close', () => true);
    await within(lifeline.close(), 5_000, 'lifeline.close()');
    await within(new Promise<void>((resolve, reject) => http.close((error) => (error ? reject(error) : resolve()))), 5_000, 'http.close()');
    shut = true;
    assert.equal(((await within(closed, 5_000, 'the client told')) as CloseEvent).code, 1001);
  });

  test("Fastify: routes and /ws on one port; a preClose hook closes Lifeline, so app.close() ends", async (t) => {
    const app = Fastify();
    app.get('/api/hello', async () => ({ hello: 'world' }));
    // Attached before listen(): Fastify's http server exists from the start.
    const lifeline = createServer({ server: app.server, path: '/ws', logger: quiet, channels });
    app.addHook('preClose', async () => {
      await lifeline.close();
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    let shut = false;
    t.after(async () => {
      if (!shut) await app.close();
    });
    const client = await exercise(t, lifeline, (app.server.address() as AddressInfo).port);
    const closed = until(client.transport, 'close', () => true);
    await within(app.close(), 5_000, 'app.close()');
    shut = true;
    assert.equal(((await within(closed, 5_000, 'the client told')) as CloseEvent).code, 1001);
  });
});
