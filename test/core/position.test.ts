/**
 * Positions: `isAfter` (what a client keeps) and `canRecover` (what a history can serve), checked
 * against a literal model of a channel's history (offsets first..head in one epoch).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { canRecover, isAfter, type Position } from '../../src/core/position.js';

const SEED = 20260517;
const epochs = fc.constantFrom('e1', 'e2', 'e3');
const position = fc.record<Position>({ epoch: epochs, offset: fc.nat({ max: 50 }) });

/** A history in `epoch` that still holds offsets first..head (first = head + 1: it holds none). */
const history = fc
  .record({ epoch: epochs, head: fc.nat({ max: 50 }) })
  .chain(({ epoch, head }) => fc.record({ epoch: fc.constant(epoch), head: fc.constant(head), first: fc.integer({ min: 1, max: head + 1 }) }));

describe('isAfter', () => {
  test('examples: same epoch and higher offset only', () => {
    assert.equal(isAfter({ epoch: 'e', offset: 3 }, undefined), true);
    assert.equal(isAfter({ epoch: 'e', offset: 3 }, { epoch: 'e', offset: 2 }), true);
    assert.equal(isAfter({ epoch: 'e', offset: 2 }, { epoch: 'e', offset: 2 }), false);
    assert.equal(isAfter({ epoch: 'f', offset: 9 }, { epoch: 'e', offset: 2 }), false);
  });

  test('property: new to a holder iff same epoch and higher offset; irreflexive; nothing is new to both orders', () => {
    fc.assert(
      fc.property(position, position, (a, b) => {
        assert.equal(isAfter(a, b), a.epoch === b.epoch && a.offset > b.offset);
        assert.equal(isAfter(a, a), false);
        assert.ok(!(isAfter(a, b) && isAfter(b, a)));
      }),
      { numRuns: 1000, seed: SEED },
    );
  });

  test('property: a client dropping events not after its last position keeps each offset once, in order', () => {
    // A replay overlapping a live stream: whatever the interleaving, the kept events are 1..n once.
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 30 }), { maxLength: 60 }), (stream) => {
        let last: Position | undefined;
        const kept: number[] = [];
        const sorted = [...stream].sort((x, y) => x - y);
        for (const offset of sorted) {
          const event = { epoch: 'e', offset };
          if (!isAfter(event, last)) continue;
          kept.push(offset);
          last = event;
        }
        assert.deepEqual(kept, [...new Set(sorted)]);
      }),
      { numRuns: 500, seed: SEED },
    );
  });
});

describe('canRecover', () => {
  test('examples', () => {
    assert.equal(canRecover({ epoch: 'e', offset: 2 }, 'e', 3, 5), true, 'needs 3..5, holds 3..5');
    assert.equal(canRecover({ epoch: 'e', offset: 1 }, 'e', 3, 5), false, 'needs 2, gone');
    assert.equal(canRecover({ epoch: 'e', offset: 5 }, 'e', 6, 5), true, 'empty history, nothing missed');
    assert.equal(canRecover({ epoch: 'e', offset: 4 }, 'e', 6, 5), false, 'empty history, one missed');
    assert.equal(canRecover({ epoch: 'e', offset: 6 }, 'e', 1, 5), false, 'ahead of the head');
    assert.equal(canRecover({ epoch: 'f', offset: 5 }, 'e', 1, 5), false, 'another epoch');
    assert.equal(canRecover({ epoch: 'e', offset: 0 }, 'e', 1, 0), true, 'an empty channel');
  });

  test('property: recoverable iff every offset after since up to the head is held (never a partial replay)', () => {
    fc.assert(
      fc.property(history, position, ({ epoch, first, head }, since) => {
        const held = new Set(Array.from({ length: head - first + 1 }, (_, i) => first + i));
        const needed = Array.from({ length: Math.max(0, head - since.offset) }, (_, i) => since.offset + 1 + i);
        const model = since.epoch === epoch && since.offset <= head && needed.every((offset) => held.has(offset));
        assert.equal(canRecover(since, epoch, first, head), model, JSON.stringify({ epoch, first, head, since }));
      }),
      { numRuns: 2000, seed: SEED },
    );
  });

  test('property: the head itself is always recoverable in its epoch, and nothing ahead of it ever is', () => {
    fc.assert(
      fc.property(history, fc.integer({ min: 1, max: 20 }), ({ epoch, first, head }, ahead) => {
        assert.equal(canRecover({ epoch, offset: head }, epoch, first, head), true);
        assert.equal(canRecover({ epoch, offset: head + ahead }, epoch, first, head), false);
      }),
      { numRuns: 500, seed: SEED },
    );
  });
});
