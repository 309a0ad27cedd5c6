/**
 * Publishes and requests (docs/protocol.md §4-5) over real sockets: one effect per id per
 * session (repeats get the stored reply, ids below the window get `expired`), request outcomes
 * (result, the handler's own code, generic `failed`, `no_method`, `timeout` on a fake clock),
 * per-session arrival order, and exactly-once across a reconnect while a request is in flight.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ImmediateExchanges } from '../../../src/broker/broker.js';
import { MemoryBroker } from '../../../src/broker/memory-broker.js';
import { BrokerUnavailableError } from '../../../src/core/errors.js';
import type { ChannelsConfig } from '../../../src/server/protocol/channels.js';
import { RequestError } from '../../../src/server/protocol/request-error.js';
import { FakeClock } from '../../../src/testing/fake-clock.js';
import { eventually } from '../../helpers/wait.js';
import { serve } from '../support.js';
import { ForwardingBroker, ParkWatch } from './brokers.js';
import { ProtocolClient } from './protocol-client.js';

const channels: ChannelsConfig = { chat: { history: { size: 100, ttl: 600_000 } } };

/** A promise the test resolves: a handler waits on it. */
function gate(): { readonly opened: Promise<void>; open(): void } {
  let open = (): void => undefined;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

describe('protocol: publish exactly once', () => {
  test('the same publish id twice makes one event and two identical acks', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels });
    const { client: watcher } = await ProtocolClient.connect(t, fixture.wsUrl);
    await watcher.subscribe(1, 'chat:a');
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    client.send({ type: 'publish', id: 1, channel: 'chat:a', data: { text: 'once' } });
    client.send({ type: 'publish', id: 1, channel: 'chat:a', data: { text: 'once' } });
    const first = await client.reply(1);
    const second = await client.reply(1);
    assert.equal(first.type, 'ack');
    assert.deepEqual(second, first);
    const next = await client.publish(2, 'chat:a', { text: 'next' });
    assert.equal(next.type === 'ack' && next.position.offset, 2, 'only one event was published for id 1');
    await watcher.take('event', (event) => event.offset === 2);
    assert.deepEqual(watcher.events('chat:a').map((event) => event.data), [{ text: 'once' }, { text: 'next' }]);
  });

  test('a repeat gets the stored reply even if the data differs (the id decides)', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels });
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    const first = await client.publish(1, 'chat:a', 'one');
    const again = await client.publish(1, 'chat:a', 'another');
    assert.deepEqual(again, first);
  });

  test('a refusal is remembered too: a repeat of a forbidden publish is not re-judged', async (t) => {
    let asked = 0;
    const fixture = await serve(t, {
      pingInterval: 0,
      channels,
      canPublish: () => {
        asked++;
        return false;
      },
    });
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    const first = await client.publish(1, 'chat:a', 'x');
    assert.equal(first.type === 'error' && first.code, 'forbidden');
    assert.deepEqual(await client.publish(1, 'chat:a', 'x'), first);
    assert.equal(asked, 1);
  });

  test('an id below the reply window gets expired (replyWindow 3)', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels, replyWindow: 3 });
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    const acks = [];
    for (let id = 1; id <= 5; id++) acks.push(await client.publish(id, 'chat:a', id));
    for (const id of [1, 2]) {
      const reply = await client.publish(id, 'chat:a', id);
      assert.equal(reply.type, 'error');
      assert.equal(reply.type === 'error' && reply.code, 'expired', `id ${id}`);
    }
    for (const id of [3, 4, 5]) assert.deepEqual(await client.publish(id, 'chat:a', id), acks[id - 1], `id ${id} is still remembered`);
    const head = await client.subscribe(6, 'chat:a');
    assert.equal(head.position.offset, 5, 'no repeat published anything');
  });

  test('after a resume, a resent publish gets its stored ack and publishes nothing', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels });
    const { client, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
    const ack = await client.publish(1, 'chat:a', 'x');
    client.terminate();
    await client.closed;
    const { client: back, welcome: again } = await ProtocolClient.connect(t, fixture.wsUrl, { session: welcome.session, secret: welcome.secret });
    assert.equal(again.resumed, true);
    assert.equal(again.acked, 1);
    assert.deepEqual(await back.publish(1, 'chat:a', 'x'), ack);
    assert.equal((await back.subscribe(2, 'chat:a')).position.offset, 1);
  });
});

/** The in-memory broker behind the promised methods only (as a networked broker is driven), with its immediate steps counted, one of them failing while `fail` names it. */
class Driven extends ForwardingBroker {
  immediate: ImmediateExchanges | undefined;
  readonly calls: string[] = [];
  fail: keyof ImmediateExchanges | undefined;

  constructor(memory: MemoryBroker) {
    super(memory, async (method) => {
      if (method === 'publish' || method === 'recordReply' || method === 'claimRequest') this.calls.push(`promised ${method}`);
    });
    const now = memory.immediate;
    if (!now) throw new Error('a plain MemoryBroker answers at once');
    const count = (method: keyof ImmediateExchanges): void => {
      this.calls.push(`immediate ${method}`);
      if (method === this.fail) throw new BrokerUnavailableError(`the test failed ${method}`, false);
    };
    this.immediate = {
      publish: (...args) => (count('publish'), now.publish(...args)),
      recordReply: (...args) => (count('recordReply'), now.recordReply(...args)),
      claimRequest: (...args) => (count('claimRequest'), now.claimRequest(...args)),
    };
  }
}

describe('protocol: a broker that answers at once, and one that answers by promise', () => {
  for (const immediate of [true, false]) {
    test(`${immediate ? 'at once' : 'by promise'}: a publish id twice and a request id twice take effect once, with identical replies in order`, async (t) => {
      const broker = new Driven(new MemoryBroker());
      if (!immediate) broker.immediate = undefined;
      const fixture = await serve(t, { pingInterval: 0, channels, broker });
      let runs = 0;
      fixture.server.handle('echo', (params) => (runs++, params));
      const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
      client.send({ type: 'publish', id: 1, channel: 'chat:a', data: 'x' });
      client.send({ type: 'publish', id: 1, channel: 'chat:a', data: 'x' });
      client.send({ type: 'request', id: 2, method: 'echo', params: 'p' });
      client.send({ type: 'request', id: 2, method: 'echo', params: 'p' });
      const replies = [await client.reply(1), await client.reply(1), await client.reply(2), await client.reply(2)];
      assert.equal(replies[0]?.type, 'ack');
      assert.deepEqual(replies[1], replies[0]);
      assert.equal(replies[2]?.type, 'result');
      assert.deepEqual(replies[3], replies[2]);
      assert.equal(runs, 1);
      assert.deepEqual(
        client.log.flatMap((message) => ('id' in message ? [message.id] : [])),
        [1, 1, 2, 2],
        'the replies left in the order of their messages',
      );
      assert.equal((await client.subscribe(3, 'chat:a')).position.offset, 1, 'one event');
      const kind = immediate ? 'immediate' : 'promised';
      assert.deepEqual(
        broker.calls.filter((call) => !call.endsWith('saveSession')),
        [`${kind} publish`, `${kind} recordReply`, `${kind} claimRequest`, `${kind} recordReply`],
        'each step asked once, the way the broker offers',
      );
    });
  }

  test('at once: a publish the broker fails is answered unavailable (not recorded: a resend tries again); a record that fails still acks', async (t) => {
    const failing = new Driven(new MemoryBroker());
    failing.fail = 'publish';
    const fixture = await serve(t, { pingInterval: 0, channels, broker: failing });
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    const refused = await client.publish(1, 'chat:a', 'x');
    assert.equal(refused.type === 'error' && refused.code, 'unavailable');
    failing.fail = 'recordReply';
    const acked = await client.publish(1, 'chat:a', 'x');
    assert.equal(acked.type, 'ack', 'the resend published; its unrecorded reply still went out');
    assert.deepEqual(await client.publish(1, 'chat:a', 'x'), acked, "this node's window answers the repeat");
  });
});

describe('protocol: requests', () => {
  test('a request gets its result; the handler sees params, session and user', async (t) => {
    const fixture = await serve<string>(t, {
      pingInterval: 0,
      authenticate: (request) => ({ ok: true, user: request.query.get('user') ?? 'nobody' }),
    });
    const contexts: { session: string; user: string }[] = [];
    fixture.server.handle('rooms.create', (params, context) => {
      contexts.push({ session: context.session, user: context.user });
      return { created: (params as { name: string }).name };
    });
    fixture.server.handle('nothing', () => undefined);
    const { client, welcome } = await ProtocolClient.connect(t, fixture.wsUrl, {}, { query: { user: 'ann' } });
    assert.deepEqual(await client.request(1, 'rooms.create', { name: 'ops' }), { type: 'result', id: 1, data: { created: 'ops' } });
    assert.deepEqual(contexts, [{ session: welcome.session, user: 'ann' }]);
    assert.deepEqual(await client.request(2, 'nothing'), { type: 'result', id: 2, data: null }, 'undefined travels as null');
  });

  test('the same request id twice runs the handler once and gets two identical results', async (t) => {
    const fixture = await serve(t, { pingInterval: 0 });
    let runs = 0;
    fixture.server.handle('count', () => ++runs);
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    client.send({ type: 'request', id: 1, method: 'count' });
    client.send({ type: 'request', id: 1, method: 'count' });
    const first = await client.reply(1);
    const second = await client.reply(1);
    assert.deepEqual(first, { type: 'result', id: 1, data: 1 });
    assert.deepEqual(second, first);
    assert.equal(runs, 1);
  });

  test('a handler returning the string "timeout" gets a result, not a timeout error', async (t) => {
    const fixture = await serve(t, { pingInterval: 0 });
    fixture.server.handle('status', () => 'timeout');
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    assert.deepEqual(await client.request(1, 'status'), { type: 'result', id: 1, data: 'timeout' });
  });

  test('a handler that does not finish within requestTimeout gets timeout, its signal aborted (fake clock)', async (t) => {
    const clock = new FakeClock();
    const fixture = await serve(t, { clock, pingInterval: 0, requestTimeout: 1_000 });
    let signal: AbortSignal | undefined;
    let runs = 0;
    fixture.server.handle('hang', (_params, context) => {
      runs++;
      signal = context.signal;
      return new Promise(() => undefined);
    });
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    client.send({ type: 'request', id: 1, method: 'hang' });
    await eventually(() => signal !== undefined, 'the handler to start');
    await clock.tickAsync(999);
    await client.wire();
    assert.equal(client.unread('error').length, 0, 'not before requestTimeout');
    await clock.tickAsync(1);
    const reply = await client.reply(1);
    assert.equal(reply.type === 'error' && reply.code, 'timeout');
    assert.equal(signal?.aborted, true);
    // The outcome is remembered like any other: a resend is not run again.
    const again = await client.request(1, 'hang');
    assert.deepEqual(again, reply);
    assert.equal(runs, 1);
  });

  test('a timeout after the connection closed is still stored as timeout: the resend after a resume gets it (fake clock)', async (t) => {
    const clock = new FakeClock();
    const watch = new ParkWatch(new MemoryBroker({ clock }));
    const fixture = await serve(t, { clock, pingInterval: 0, requestTimeout: 1_000, broker: watch });
    t.after(() => watch.inner.close());
    let runs = 0;
    fixture.server.handle('hang', () => {
      runs++;
      return new Promise(() => undefined);
    });
    const { client, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
    client.send({ type: 'request', id: 1, method: 'hang' });
    await eventually(() => runs === 1, 'the handler to start');
    client.terminate();
    await watch.parked(welcome.session);
    await clock.tickAsync(1_000);
    const { client: back } = await ProtocolClient.connect(t, fixture.wsUrl, { session: welcome.session, secret: welcome.secret });
    const reply = await back.request(1, 'hang');
    assert.equal(reply.type, 'error');
    assert.equal(reply.type === 'error' && reply.code, 'timeout');
    assert.equal(runs, 1);
  });

  test('a handler throwing RequestError refuses with its own code and message', async (t) => {
    const fixture = await serve(t, { pingInterval: 0 });
    fixture.server.handle('rooms.create', () => {
      throw new RequestError('exists', 'a room with that name exists');
    });
    fixture.server.handle('rooms.delete', async () => {
      throw new RequestError('not_found', 'no such room');
    });
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    assert.deepEqual(await client.request(1, 'rooms.create'), { type: 'error', id: 1, code: 'exists', message: 'a room with that name exists' });
    assert.deepEqual(await client.request(2, 'rooms.delete'), { type: 'error', id: 2, code: 'not_found', message: 'no such room' });
  });

  test('a handler throwing anything else gets failed with a generic message (nothing leaks)', async (t) => {
    const fixture = await serve(t, { pingInterval: 0 });
    fixture.server.handle('sync', () => {
      throw new Error('password=hunter2 at db.internal:5432');
    });
    fixture.server.handle('async', async () => {
      throw new TypeError('secret stack detail');
    });
    fixture.server.handle('bigint', () => ({ n: 10n }));
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    for (const [id, method] of [[1, 'sync'], [2, 'async'], [3, 'bigint']] as const) {
      const reply = await client.request(id, method);
      assert.equal(reply.type, 'error');
      if (reply.type !== 'error') continue;
      assert.equal(reply.code, 'failed', method);
      assert.doesNotMatch(reply.message, /hunter2|db\.internal|secret|stack|10n|serializ/i, method);
    }
    assert.equal(client.ws.readyState, client.ws.OPEN, 'the connection stays');
  });

  test('a method without a handler gets no_method', async (t) => {
    const fixture = await serve(t, { pingInterval: 0 });
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    const reply = await client.request(1, 'nobody.home');
    assert.equal(reply.type === 'error' && reply.code, 'no_method');
  });

  test("a session's requests run in arrival order: a slow first one finishes before the second starts", async (t) => {
    const fixture = await serve(t, { pingInterval: 0 });
    const steps: string[] = [];
    const slow = gate();
    fixture.server.handle('slow', async () => {
      steps.push('slow start');
      await slow.opened;
      steps.push('slow end');
      return 'slow';
    });
    fixture.server.handle('fast', () => {
      steps.push('fast');
      return 'fast';
    });
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    client.send({ type: 'request', id: 1, method: 'slow' });
    client.send({ type: 'request', id: 2, method: 'fast' });
    await eventually(() => steps.length > 0, 'the slow handler to start');
    await client.wire(); // request 2 has arrived (and, were it not queued, would have run by now)
    assert.deepEqual(steps, ['slow start'], 'the second waits');
    slow.open();
    assert.deepEqual(await client.reply(1), { type: 'result', id: 1, data: 'slow' });
    assert.deepEqual(await client.reply(2), { type: 'result', id: 2, data: 'fast' });
    assert.deepEqual(steps, ['slow start', 'slow end', 'fast']);
    const order = client.log.filter((message) => message.type === 'result').map((message) => (message.type === 'result' ? message.id : 0));
    assert.deepEqual(order, [1, 2]);
  });

  test('different sessions do not wait for each other', async (t) => {
    const fixture = await serve(t, { pingInterval: 0 });
    const slow = gate();
    fixture.server.handle('slow', async () => {
      await slow.opened;
      return 'slow';
    });
    fixture.server.handle('fast', () => 'fast');
    const { client: a } = await ProtocolClient.connect(t, fixture.wsUrl);
    const { client: b } = await ProtocolClient.connect(t, fixture.wsUrl);
    a.send({ type: 'request', id: 1, method: 'slow' });
    assert.deepEqual(await b.request(1, 'fast'), { type: 'result', id: 1, data: 'fast' });
    slow.open();
    assert.deepEqual(await a.reply(1), { type: 'result', id: 1, data: 'slow' });
  });

  for (const how of ['after the old connection dropped', 'while the old connection is still open (takeover)'] as const) {
    test(`a request in flight when the client reconnects and resends it runs once (${how})`, async (t) => {
      const watch = new ParkWatch(new MemoryBroker());
      const fixture = await serve(t, { pingInterval: 0, broker: watch });
      t.after(() => watch.inner.close());
      let runs = 0;
      const slow = gate();
      fixture.server.handle('charge', async () => {
        runs++;
        await slow.opened;
        return { charged: runs };
      });
      const { client, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
      client.send({ type: 'request', id: 1, method: 'charge' });
      await eventually(() => runs === 1, 'the handler to start');
      if (how === 'after the old connection dropped') {
        client.terminate();
        await watch.parked(welcome.session);
      }
      const { client: back, welcome: again } = await ProtocolClient.connect(t, fixture.wsUrl, { session: welcome.session, secret: welcome.secret });
      assert.equal(again.resumed, true);
      back.send({ type: 'request', id: 1, method: 'charge' }); // the client never got a reply: it resends
      await back.wire();
      slow.open();
      const reply = await back.reply(1);
      assert.deepEqual(reply, { type: 'result', id: 1, data: { charged: 1 } });
      await back.sync();
      assert.equal(runs, 1, 'the handler ran once');
      assert.equal(back.log.filter((message) => message.type === 'result').length, 1);
    });
  }
});
