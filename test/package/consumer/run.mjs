// Runs from the installed tarball: a server on 127.0.0.1 and a free port, a client that
// subscribes, publishes and receives its own event; prints one JSON line.
import { startServer } from 'lifeline/testing';
import { LifelineClient } from 'lifeline/client';

const fixture = await startServer({ channels: { chat: {} }, pingInterval: 0 });
const client = new LifelineClient(fixture.wsUrl);
try {
  const received = new Promise((resolve) => {
    const subscription = client.subscribe('chat:room', { event: (event) => resolve(event.data) });
    void subscription.ready().then(() => client.publish('chat:room', { text: 'hello from the tarball' }));
  });
  console.log(JSON.stringify({ received: await received, port: fixture.port }));
} finally {
  client.close();
  await fixture.close();
}
