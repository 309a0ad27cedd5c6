/**
 * Properties of the protocol core under random interleavings of client messages, broker answers
 * and clock ticks (fast-check, bounded runs): no reply for an id that was never sent, a recorded
 * answer is the answer to every later copy of its id, every copy is answered once when all is
 * settled, and per subscription no event goes out twice or out of order (nor goes missing).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { RequestWindow } from '../../src/core/request-window.js';
import type { ExchangeStep, PublishAnswer, RunOutcome } from '../../src/protocol/exchange.js';
import type { Session } from '../../src/protocol/session.js';
import { newSubscription } from '../../src/protocol/subscription-state.js';
import { FakeClock } from '../../src/testing/fake-clock.js';
import { newSession } from './support.js';

const SEED = 20261206;
const RUNS = 100;

type Ask = Exclude<ExchangeStep, { readonly kind: 'send' | 'record' | 'fault' }>;

const publishAnswer = fc.oneof(
  fc.constant<PublishAnswer>({ kind: 'stored', position: { epoch: 'e', offset: 1 } }),
  fc.constant<PublishAnswer>({ kind: 'conflict', message: 'conflict' }),
  fc.boolean().map<PublishAnswer>((maybe) => ({ kind: 'failed', maybe })),
);
const runOutcome = fc.oneof(fc.constant<RunOutcome>({ kind: 'result', data: 'ok' }), fc.constant<RunOutcome>({ kind: 'timeout' }), fc.constant<RunOutcome>({ kind: 'failed' }));

/** One random input: a client message, an answer to one of the outstanding asks, or time passing. */
const input = fc.oneof(
  fc.record({ type: fc.constant('publish' as const), id: fc.integer({ min: 1, max: 5 }) }),
  fc.record({ type: fc.constant('request' as const), id: fc.integer({ min: 6, max: 9 }) }),
  fc.record({
    type: fc.constant('answer' as const),
    pick: fc.nat(),
    check: fc.boolean(),
    publish: publishAnswer,
    claim: fc.constantFrom<boolean | 'failed'>(true, false, 'failed'),
    run: runOutcome,
    stored: fc.boolean(),
  }),
  fc.record({ type: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 1_500 }) }),
);
type Input = typeof input extends fc.Arbitrary<infer T> ? T : never;

/** Drives one session; keeps every step it returned, in order, with the ids the client sent. */
class Driver {
  readonly clock = new FakeClock();
  readonly session: Session<{ readonly name: string }> = newSession(this.clock, { window: new RequestWindow<unknown>(32) });
  readonly log: { readonly id: number; readonly step: ExchangeStep }[] = [];
  readonly copies = new Map<number, number>();
  readonly #asks: { readonly ask: Ask; readonly due: number }[] = [];
  /** Replies recorded by "another node", found by a `load`. */
  readonly #elsewhere = new Map<number, string>();

  apply(event: Input): void {
    if (event.type === 'publish' || event.type === 'request') {
      this.copies.set(event.id, (this.copies.get(event.id) ?? 0) + 1);
      this.#take(event.id, event.type === 'publish' ? this.session.publish(event.id, 'chat:a') : this.session.request(event.id, 'm'));
    } else if (event.type === 'tick') {
      this.clock.tick(event.ms);
    } else {
      const ready = this.#asks.filter((entry) => entry.due <= this.clock.now());
      const chosen = ready[event.pick % Math.max(ready.length, 1)];
      if (!chosen) return;
      this.#asks.splice(this.#asks.indexOf(chosen), 1);
      this.#take(chosen.ask.id, this.#answer(chosen.ask, event));
    }
  }

  /** Answers everything still outstanding (time moving on as needed), within a bound. */
  settle(answer: Extract<Input, { type: 'answer' }>): void {
    for (let round = 0; round < 1_000 && this.#asks.length > 0; round++) {
      const next = this.#asks.reduce((a, b) => (b.due < a.due ? b : a));
      if (next.due > this.clock.now()) this.clock.tick(next.due - this.clock.now());
      this.apply({ ...answer, pick: this.#asks.filter((entry) => entry.due <= this.clock.now()).indexOf(next) });
    }
    assert.equal(this.#asks.length, 0, 'every exchange ends');
  }

  #answer(ask: Ask, event: Extract<Input, { type: 'answer' }>): ExchangeStep[] {
    switch (ask.kind) {
      case 'check':
        return this.session.checked(ask.id, event.check ? { ok: true } : { ok: false, code: 'forbidden', message: 'no', record: true });
      case 'publish':
        return this.session.published(ask.id, event.publish);
      case 'claim':
        return this.session.claimed(ask.id, event.claim);
      case 'run':
        return this.session.ran(ask.id, event.run);
      case 'wait':
        return this.session.fired(ask.id);
      case 'load': {
        if (event.stored && !this.#elsewhere.has(ask.id)) this.#elsewhere.set(ask.id, JSON.stringify({ type: 'result', id: ask.id, data: 'elsewhere' }));
        return this.session.loaded(ask.id, this.#elsewhere.get(ask.id));
      }
    }
  }

  #take(id: number, steps: readonly ExchangeStep[]): void {
    for (const step of steps) {
      this.log.push({ id, step });
      if (step.kind === 'send' || step.kind === 'record' || step.kind === 'fault') continue;
      this.#asks.push({ ask: step, due: this.clock.now() + (step.kind === 'wait' ? step.ms : 0) });
    }
  }
}

const settleAnswer: Extract<Input, { type: 'answer' }> = { type: 'answer', pick: 0, check: true, publish: { kind: 'stored', position: { epoch: 'e', offset: 1 } }, claim: true, run: { kind: 'result', data: 'ok' }, stored: true };

describe('protocol core: properties', () => {
  test('exactly once: no reply for an id never sent, a recorded answer answers every later copy, every copy answered once', () => {
    fc.assert(
      fc.property(fc.array(input, { maxLength: 40 }), (inputs) => {
        const driver = new Driver();
        for (const event of inputs) driver.apply(event);
        driver.settle(settleAnswer);
        const recorded = new Map<number, string>();
        const answers = new Map<number, number>();
        for (const { step } of driver.log) {
          if (step.kind === 'record') {
            assert.equal(recorded.get(step.id) ?? step.text, step.text, 'an id is recorded with one answer only');
            recorded.set(step.id, step.text);
          }
          if (step.kind !== 'send') continue;
          const reply = JSON.parse(step.text) as { readonly id: number };
          assert.ok(driver.copies.has(reply.id), `a reply for id ${reply.id}, never sent`);
          const first = recorded.get(reply.id);
          if (first !== undefined) assert.equal(step.text, first, 'a repeated id gets the first answer');
          answers.set(reply.id, (answers.get(reply.id) ?? 0) + 1);
        }
        assert.deepEqual(answers, driver.copies, 'every copy is answered, once');
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });

  test('per subscription: events go out once, in order, none missing, however live events and the catch-up interleave', () => {
    const step = fc.oneof(fc.constant('publish' as const), fc.constant('deliver' as const), fc.constant('redeliver' as const), fc.constant('catch-up' as const));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 }), fc.integer({ min: 0, max: 10 }), fc.integer({ min: 0, max: 5 }), fc.array(step, { maxLength: 40 }), (head0, since, kept, steps) => {
        const session = newSession(new FakeClock());
        let head = head0;
        const floor = Math.max(0, head0 - kept); // events after `floor` are still in history
        const start = Math.min(since, head0); // a client cannot hold a position past the head
        const sub = session.subscribe(newSubscription('chat:a', { epoch: 'e', offset: start }, false));
        const live: number[] = []; // published after the node joined the channel, not yet delivered
        let lastDelivered: number | undefined;
        const out: number[] = [];
        let caughtUpAt: number | undefined;
        const deliver = (offset: number): void => {
          const verdict = session.deliver(sub, String(offset), { epoch: 'e', offset });
          assert.notEqual(verdict, 'resync', 'no gap in this model');
          if (verdict === 'send') out.push(offset);
        };
        const catchUp = (): void => {
          const recovered = start >= floor;
          const events = recovered ? Array.from({ length: head - start }, (_, i) => ({ epoch: 'e', offset: start + 1 + i, data: null })) : [];
          caughtUpAt = head;
          for (const item of session.caughtUp(sub, 1, { events, position: { epoch: 'e', offset: head }, recovered })) {
            if (item.kind === 'send' && item.text.startsWith('{"type":"event"')) out.push((JSON.parse(item.text) as { offset: number }).offset);
            if (item.kind === 'event') out.push(Number(item.payload));
            assert.notEqual(item.kind, 'resync');
          }
        };
        for (const action of steps) {
          if (action === 'publish') live.push(++head);
          else if (action === 'deliver' && live.length > 0) deliver((lastDelivered = live.shift() as number));
          else if (action === 'redeliver' && lastDelivered !== undefined) deliver(lastDelivered);
          else if (action === 'catch-up' && caughtUpAt === undefined) catchUp();
        }
        if (caughtUpAt === undefined) catchUp();
        while (live.length > 0) deliver(live.shift() as number);
        const from = start >= floor ? start : (caughtUpAt as number);
        assert.deepEqual(
          out,
          Array.from({ length: head - from }, (_, i) => from + 1 + i),
          'each event after the starting point, once, in order',
        );
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });
});
