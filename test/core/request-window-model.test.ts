/**
 * The ring-buffer request window against a reference model: a Map-based window that keeps the
 * replies of the `capacity` highest ids and forgets the lowest (what the Redis broker's sorted
 * set does). Any sequence of records, checks and snapshot-restores must give the same verdicts,
 * the same `acked` and the same snapshots (replies in id order).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { RequestWindow, type RequestWindowState, type WindowVerdict } from '../../src/core/request-window.js';

const SEED = 20261206;

/** The reference: a Map of replies, the lowest ids evicted first. */
class MapWindow<R> {
  #acked: number;
  #floor: number;
  readonly #map: Map<number, R>;

  constructor(
    readonly capacity: number,
    state?: RequestWindowState<R>,
  ) {
    this.#acked = state?.acked ?? 0;
    this.#floor = state?.floor ?? 0;
    this.#map = new Map(state?.replies ?? []);
  }

  get acked(): number {
    return this.#acked;
  }

  check(id: number): WindowVerdict<R> {
    if (this.#map.has(id)) return { kind: 'repeat', reply: this.#map.get(id) as R };
    if (id <= this.#floor) return { kind: 'expired' };
    return { kind: 'new' };
  }

  record(id: number, reply: R): void {
    this.#map.set(id, reply);
    if (id > this.#acked) this.#acked = id;
    while (this.#map.size > this.capacity) {
      const lowest = Math.min(...this.#map.keys());
      this.#map.delete(lowest);
      if (lowest > this.#floor) this.#floor = lowest;
    }
  }

  snapshot(): RequestWindowState<R> {
    return { acked: this.#acked, floor: this.#floor, replies: [...this.#map].sort((a, b) => a[0] - b[0]) };
  }
}

type Command = { readonly op: 'record'; readonly step: number; readonly reply: number } | { readonly op: 'check'; readonly back: number } | { readonly op: 'restore' };

/** Mostly the next id (a client's ids), sometimes a repeat or an older id (resends, out-of-order replies). */
const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('record' as const), step: fc.integer({ min: -12, max: 3 }), reply: fc.integer() }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('check' as const), back: fc.integer({ min: -2, max: 20 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('restore' as const) }) },
);

/** Two copies of a session's window for the merge properties: ids recorded in any order. */
const mergeRecords = fc.array(fc.tuple(fc.integer({ min: 1, max: 25 }), fc.integer()), { maxLength: 30 });

function filled(capacity: number, records: readonly (readonly [number, number])[]): RequestWindow<number> {
  const window = new RequestWindow<number>(capacity);
  for (const [id, reply] of records) window.record(id, reply);
  return window;
}

describe('RequestWindow (ring) against the Map-based model', () => {
  test('property: same verdicts, acked and snapshots for any records, checks and restores', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.array(command, { maxLength: 80 }), (capacity, commands) => {
        let ring = new RequestWindow<number>(capacity);
        let model = new MapWindow<number>(capacity);
        for (const cmd of commands) {
          if (cmd.op === 'record') {
            const id = Math.max(1, model.acked + cmd.step);
            ring.record(id, cmd.reply);
            model.record(id, cmd.reply);
          } else if (cmd.op === 'check') {
            const id = Math.max(1, model.acked - cmd.back);
            assert.deepEqual(ring.check(id), model.check(id), `check(${id})`);
          } else {
            // What the broker stores between connections, restored into a window as large.
            const state = model.snapshot();
            assert.deepEqual(ring.snapshot(), state);
            ring = new RequestWindow(capacity, ring.snapshot());
            model = new MapWindow(capacity, state);
          }
          assert.equal(ring.acked, model.acked);
        }
        assert.deepEqual(ring.snapshot(), model.snapshot());
        for (let id = 1; id <= model.acked + 2; id++) assert.deepEqual(ring.check(id), model.check(id), `final check(${id})`);
      }),
      { numRuns: 2000, seed: SEED },
    );
  });

  test('property: after merge, no id either copy answered or forgot looks new, and acked is the higher of the two', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), mergeRecords, mergeRecords, (capacity, ownRecords, otherRecords) => {
        const [own, other] = [ownRecords, otherRecords].map((records) => filled(capacity, records)) as [RequestWindow<number>, RequestWindow<number>];
        const before = Array.from({ length: 27 }, (_, i) => [own.check(i + 1), other.check(i + 1)] as const);
        own.merge(other.snapshot());
        for (let id = 1; id <= 27; id++) {
          const [mine, theirs] = before[id - 1] ?? [];
          if (mine?.kind !== 'new' || theirs?.kind !== 'new') assert.notEqual(own.check(id).kind, 'new', `id ${id}`);
        }
        assert.equal(own.acked, Math.max(0, ...ownRecords.map(([id]) => id), ...otherRecords.map(([id]) => id)));
      }),
      { numRuns: 1000, seed: SEED },
    );
  });

  test('property: after merge, the window holds the highest ids of both copies (its own reply where both have one) and forgets the rest', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), mergeRecords, mergeRecords, (capacity, ownRecords, otherRecords) => {
        const [own, other] = [ownRecords, otherRecords].map((records) => filled(capacity, records)) as [RequestWindow<number>, RequestWindow<number>];
        const union = new Map(other.snapshot().replies);
        for (const [id, reply] of own.snapshot().replies) union.set(id, reply);
        const kept = [...union.keys()].sort((a, b) => b - a).slice(0, capacity);
        const dropped = [...union.keys()].filter((id) => !kept.includes(id));
        own.merge(other.snapshot());
        for (const id of kept) assert.deepEqual(own.check(id), { kind: 'repeat', reply: union.get(id) }, `kept id ${id}`);
        for (const id of dropped) assert.deepEqual(own.check(id), { kind: 'expired' }, `dropped id ${id}`);
        assert.equal(own.snapshot().replies.length, kept.length);
      }),
      { numRuns: 1000, seed: SEED },
    );
  });

  test('merging an older reply into a full window keeps the newer ones', () => {
    const own = new RequestWindow<string>(2);
    own.record(5, 'e');
    own.record(6, 'f');
    own.merge({ acked: 3, floor: 0, replies: [[3, 'c']] });
    assert.deepEqual(own.check(5), { kind: 'repeat', reply: 'e' });
    assert.deepEqual(own.check(6), { kind: 'repeat', reply: 'f' });
    assert.deepEqual(own.check(3), { kind: 'expired' });
    assert.deepEqual(own.snapshot(), { acked: 6, floor: 3, replies: [[5, 'e'], [6, 'f']] });
  });

  test('a snapshot larger than the capacity keeps its newest replies and forgets the rest', () => {
    const window = new RequestWindow<string>(2, { acked: 4, floor: 0, replies: [[1, 'a'], [2, 'b'], [3, 'c'], [4, 'd']] });
    assert.deepEqual(window.snapshot(), { acked: 4, floor: 2, replies: [[3, 'c'], [4, 'd']] });
    assert.deepEqual(window.check(2), { kind: 'expired' });
    assert.deepEqual(window.check(3), { kind: 'repeat', reply: 'c' });
  });

  test('an undefined reply is still a repeat, and a new id allocates no verdict', () => {
    const window = new RequestWindow<undefined>(3);
    window.record(1, undefined);
    assert.deepEqual(window.check(1), { kind: 'repeat', reply: undefined });
    assert.equal(window.check(2), window.check(3), 'the shared "new" verdict');
  });
});
