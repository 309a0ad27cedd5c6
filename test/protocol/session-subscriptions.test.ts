/**
 * Subscriptions in the protocol core: a subscribe with `since` inside, at and outside history
 * gets its catch-up then `subscribed`; live events that arrive meanwhile go out once and in
 * order; a gap under a live subscription asks for one resync.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CatchUpStep } from '../../src/protocol/session.js';
import { newSubscription } from '../../src/protocol/subscription-state.js';
import { FakeClock } from '../../src/testing/fake-clock.js';
import { newSession } from './support.js';

const at = (offset: number) => ({ epoch: 'e1', offset });
const event = (offset: number) => ({ ...at(offset), data: { n: offset } });

function texts(steps: readonly CatchUpStep<string>[]): unknown[] {
  return steps.map((step) => (step.kind === 'send' ? JSON.parse(step.text) : step.kind === 'event' ? `live ${step.payload}` : 'resync'));
}

describe('protocol core: subscribe and catch-up', () => {
  test('since inside history: the missed events, subscribed, then the live ones after the head (those before it dropped)', () => {
    const session = newSession(new FakeClock());
    const sub = session.subscribe(newSubscription('chat:a', at(3), false));
    // Live events reach the node while the broker reads history: they wait.
    assert.equal(session.deliver(sub, '5', at(5)), 'buffered');
    assert.equal(session.deliver(sub, '6', at(6)), 'buffered');
    const steps = session.caughtUp(sub, 9, { events: [event(4), event(5)], position: at(5), recovered: true });
    assert.deepEqual(texts(steps), [
      { type: 'event', channel: 'chat:a', epoch: 'e1', offset: 4, data: { n: 4 } },
      { type: 'event', channel: 'chat:a', epoch: 'e1', offset: 5, data: { n: 5 } },
      { type: 'subscribed', id: 9, channel: 'chat:a', position: at(5), recovered: true },
      'live 6',
    ]);
    assert.equal(session.deliver(sub, '6', at(6)), 'skip', 'a duplicate from the broker is not sent twice');
    assert.equal(session.deliver(sub, '7', at(7)), 'send');
  });

  test('since at the head: subscribed at once, recovered, nothing replayed', () => {
    const session = newSession(new FakeClock());
    const sub = session.subscribe(newSubscription('chat:a', at(5), false));
    assert.deepEqual(texts(session.caughtUp(sub, 1, { events: [], position: at(5), recovered: true })), [{ type: 'subscribed', id: 1, channel: 'chat:a', position: at(5), recovered: true }]);
  });

  test('since outside history: recovered false, nothing replayed, continues from the head', () => {
    const session = newSession(new FakeClock());
    const sub = session.subscribe(newSubscription('chat:a', at(1), false));
    const steps = session.caughtUp(sub, 2, { events: [], position: at(50), recovered: false });
    assert.deepEqual(texts(steps), [{ type: 'subscribed', id: 2, channel: 'chat:a', position: at(50), recovered: false }]);
    assert.equal(session.deliver(sub, '51', at(51)), 'send');
  });

  test('a gap or a new epoch under a live subscription asks for one resync, then nothing more is delivered', () => {
    const session = newSession(new FakeClock());
    const sub = session.subscribe(newSubscription('chat:a', undefined, false));
    session.caughtUp(sub, 1, { events: [], position: at(5), recovered: true });
    assert.equal(session.deliver(sub, '7', at(7)), 'resync');
    assert.equal(session.deliver(sub, '8', at(8)), 'skip');
    assert.equal(session.deliver(sub, 'x', { epoch: 'e2', offset: 1 }), 'skip');
  });

  test('unsubscribe ends only the current subscription of a channel', () => {
    const session = newSession(new FakeClock());
    const old = session.subscribe(newSubscription('chat:a', undefined, false));
    const current = session.subscribe(newSubscription('chat:a', undefined, false));
    session.unsubscribe(old);
    assert.equal(session.subscription('chat:a'), current);
    session.unsubscribe(current);
    assert.equal(session.subscriptionCount, 0);
  });

  test('wantsPresence: whether a current subscription asked for presence, with one subscription or several', () => {
    const session = newSession(new FakeClock());
    assert.equal(session.wantsPresence, false);
    const a = session.subscribe(newSubscription('chat:a', undefined, false));
    assert.equal(session.wantsPresence, false);
    session.unsubscribe(a);
    session.subscribe(newSubscription('chat:a', undefined, true));
    assert.equal(session.wantsPresence, true);
    session.subscribe(newSubscription('chat:b', undefined, false));
    assert.equal(session.wantsPresence, true, 'the first of two');
    session.subscribe(newSubscription('chat:a', undefined, false)); // resubscribed without presence
    assert.equal(session.wantsPresence, false);
  });

  test('one subscription or several: each found by its channel, counted and listed, a resubscribe replacing the current one', () => {
    const session = newSession(new FakeClock());
    assert.equal(session.subscription('chat:a'), undefined);
    assert.deepEqual(session.subscriptionList(), []);
    const a = session.subscribe(newSubscription('chat:a', undefined, false));
    assert.equal(session.subscription('chat:b'), undefined);
    const b = session.subscribe(newSubscription('chat:b', undefined, true));
    const c = session.subscribe(newSubscription('chat:c', undefined, false));
    assert.equal(session.subscriptionCount, 3);
    assert.deepEqual(session.subscriptionList(), [a, b, c]);
    const b2 = session.subscribe(newSubscription('chat:b', undefined, false));
    assert.equal(session.subscription('chat:b'), b2);
    session.unsubscribe(b); // no longer the current one: nothing changes
    assert.equal(session.subscriptionCount, 3);
    session.unsubscribe(a);
    session.unsubscribe(b2);
    assert.deepEqual(session.subscriptionList(), [c]);
    assert.equal(session.subscription('chat:c'), c);
    session.unsubscribe(c);
    assert.equal(session.subscriptionCount, 0);
  });

  test('a direct message goes out once per seq, in order', () => {
    const session = newSession(new FakeClock());
    assert.equal(session.acceptDirect(1, 'a'), '{"type":"message","seq":1,"data":"a"}');
    assert.equal(session.acceptDirect(1, 'a'), undefined);
    assert.equal(session.acceptDirect(3, 'c'), '{"type":"message","seq":3,"data":"c"}');
    assert.equal(session.acceptDirect(2, 'b'), undefined);
  });
});
