/**
 * The exactly-once exchanges of the protocol core, fed literal messages and broker answers on a
 * fake clock: a repeated id is answered from the window, retries and claims follow the rules of
 * docs/protocol.md, and nothing waits on a real timer.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RequestWindow } from '../../src/core/request-window.js';
import { CLAIM_MARGIN, ELSEWHERE_POLL, PUBLISH_RETRIES, PUBLISH_RETRY_DELAY } from '../../src/protocol/exchange.js';
import { FakeClock } from '../../src/testing/fake-clock.js';
import { newSession, REQUEST_TIMEOUT, sent } from './support.js';

const stored = { kind: 'stored', position: { epoch: 'e1', offset: 7 } } as const;

describe('protocol core: publish', () => {
  test('a new id is checked, published, recorded before it is sent; a repeat is answered from the window', () => {
    const session = newSession(new FakeClock());
    assert.deepEqual(session.publish(1, 'chat:a'), [{ kind: 'check', id: 1 }]);
    assert.deepEqual(session.checked(1, { ok: true }), [{ kind: 'publish', id: 1, attempt: 0 }]);
    const answered = session.published(1, stored);
    const ack = '{"type":"ack","id":1,"position":{"epoch":"e1","offset":7}}';
    assert.deepEqual(answered, [
      { kind: 'record', id: 1, text: ack },
      { kind: 'send', text: ack },
    ]);
    assert.deepEqual(session.publish(1, 'chat:a'), [{ kind: 'send', text: ack }], 'the first answer, nothing asked of the broker');
    assert.equal(session.inFlight, 0);
  });

  test('a command that may have run is asked again after a wait, then answered unavailable and not recorded', () => {
    const clock = new FakeClock();
    const session = newSession(clock);
    session.publish(2, 'chat:a');
    let steps = session.checked(2, { ok: true });
    for (let attempt = 0; attempt < PUBLISH_RETRIES; attempt++) {
      assert.deepEqual(steps, [{ kind: 'publish', id: 2, attempt }]);
      assert.deepEqual(session.published(2, { kind: 'failed', maybe: true }), [{ kind: 'wait', id: 2, ms: PUBLISH_RETRY_DELAY }]);
      steps = session.fired(2);
    }
    const last = session.published(2, { kind: 'failed', maybe: true });
    assert.equal(last.length, 1, 'sent, not recorded');
    assert.deepEqual(sent(last), [{ type: 'error', id: 2, code: 'unavailable', message: 'the broker did not answer: the message may have been published; resend it with the same id to know' }]);
    assert.deepEqual(session.publish(2, 'chat:a'), [{ kind: 'check', id: 2 }], 'a resend tries again (the broker origin keeps it single)');
  });

  test('a command that surely did not run is answered at once: nothing was published', () => {
    const session = newSession(new FakeClock());
    session.publish(3, 'chat:a');
    session.checked(3, { ok: true });
    assert.deepEqual(sent(session.published(3, { kind: 'failed', maybe: false })), [{ type: 'error', id: 3, code: 'unavailable', message: 'the message could not be published; nothing was published' }]);
  });

  test('an idempotency conflict and a refused check are recorded; a failed check is not', () => {
    const session = newSession(new FakeClock());
    session.publish(1, 'chat:a');
    session.checked(1, { ok: true });
    const conflict = session.published(1, { kind: 'conflict', message: 'key used for another body' });
    assert.equal(conflict[0]?.kind, 'record');
    session.publish(2, 'chat:a');
    assert.equal(session.checked(2, { ok: false, code: 'forbidden', message: 'no', record: true })[0]?.kind, 'record');
    session.publish(3, 'chat:a');
    const failed = session.checked(3, { ok: false, code: 'failed', message: 'the publish could not be checked; nothing was published', record: false });
    assert.deepEqual(
      failed.map((step) => step.kind),
      ['send'],
    );
    assert.equal(session.window.check(3).kind, 'new');
  });

  test('an id below the window is expired', () => {
    const window = new RequestWindow<unknown>(2);
    for (const id of [1, 2, 3]) window.record(id, `{"type":"ack","id":${id}}`);
    const session = newSession(new FakeClock(), { window });
    assert.deepEqual(sent(session.publish(1, 'chat:a')), [{ type: 'error', id: 1, code: 'expired', message: 'this id is older than the session remembers' }]);
  });
});

describe('protocol core: request', () => {
  test('claimed here: the handler runs and its result is recorded; a result JSON cannot carry is failed', () => {
    const session = newSession(new FakeClock());
    session.request(1, 'rooms.list');
    assert.deepEqual(session.checked(1, { ok: true }), [{ kind: 'claim', id: 1 }]);
    assert.deepEqual(session.claimed(1, true), [{ kind: 'run', id: 1 }]);
    assert.deepEqual(sent(session.ran(1, { kind: 'result', data: undefined })), [{ type: 'result', id: 1, data: null }]);
    session.request(2, 'rooms.list');
    session.checked(2, { ok: true });
    session.claimed(2, true);
    const steps = session.ran(2, { kind: 'result', data: 10n });
    assert.deepEqual(
      steps.map((step) => step.kind),
      ['fault', 'record', 'send'],
    );
    assert.deepEqual(sent(steps), [{ type: 'error', id: 2, code: 'failed', message: '"rooms.list" failed' }]);
  });

  test('a request claimed elsewhere waits for the reply that node records', () => {
    const clock = new FakeClock();
    const session = newSession(clock);
    session.request(5, 'slow');
    session.checked(5, { ok: true });
    assert.deepEqual(session.claimed(5, false), [{ kind: 'wait', id: 5, ms: ELSEWHERE_POLL }]);
    clock.tick(ELSEWHERE_POLL);
    assert.deepEqual(session.fired(5), [{ kind: 'load', id: 5 }]);
    assert.deepEqual(session.loaded(5, undefined), [{ kind: 'wait', id: 5, ms: ELSEWHERE_POLL }], 'nothing yet: poll again');
    const reply = '{"type":"result","id":5,"data":"done"}';
    assert.deepEqual(session.loaded(5, reply), [{ kind: 'send', text: reply }], 'the other node recorded it already');
    assert.deepEqual(session.request(5, 'slow'), [{ kind: 'send', text: reply }], 'and it is this window too');
  });

  test('a request claimed by a node that died is told timeout once the claim runs out; a parked session is told nothing', () => {
    const clock = new FakeClock();
    const session = newSession(clock);
    session.request(6, 'slow');
    session.checked(6, { ok: true });
    session.claimed(6, false);
    clock.tick(REQUEST_TIMEOUT + CLAIM_MARGIN);
    session.fired(6);
    assert.deepEqual(sent(session.loaded(6, undefined)), [{ type: 'error', id: 6, code: 'timeout', message: '"slow" was running on another server that did not answer; its effect is unknown' }]);

    const parked = newSession(clock);
    parked.request(7, 'slow');
    parked.checked(7, { ok: true });
    parked.claimed(7, false);
    parked.parked = true;
    assert.deepEqual(parked.loaded(7, undefined), [], 'the session left: its resume asks again');
    assert.equal(parked.inFlight, 0);
  });

  test('a handler that timed out, refused or threw is answered and recorded', () => {
    const session = newSession(new FakeClock());
    const outcomes = [{ kind: 'timeout' }, { kind: 'refused', code: 'exists', message: 'taken' }, { kind: 'failed' }] as const;
    const codes = outcomes.map((outcome, index) => {
      const id = index + 1;
      session.request(id, 'm');
      session.checked(id, { ok: true });
      session.claimed(id, true);
      return (sent(session.ran(id, outcome))[0] as { code: string }).code;
    });
    assert.deepEqual(codes, ['timeout', 'exists', 'failed']);
    assert.equal(session.window.check(2).kind, 'repeat');
  });

  test('a claim the broker cannot take is unavailable, not recorded', () => {
    const session = newSession(new FakeClock());
    session.request(1, 'm');
    session.checked(1, { ok: true });
    assert.deepEqual(sent(session.claimed(1, 'failed')), [{ type: 'error', id: 1, code: 'unavailable', message: '"m" was not run: the server\'s broker is unreachable' }]);
    assert.equal(session.window.check(1).kind, 'new');
  });

  test('a copy of an id still in flight gets the first copy\'s answer', () => {
    const session = newSession(new FakeClock());
    session.publish(1, 'chat:a');
    assert.deepEqual(session.publish(1, 'chat:a'), []);
    session.checked(1, { ok: true });
    const steps = session.published(1, stored);
    assert.equal(sent(steps).length, 2);
  });
});
