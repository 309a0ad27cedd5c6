/** The memory broker's history list against a plain array used as a queue. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Fifo } from '../../src/broker/fifo.js';

describe('Fifo', () => {
  test('property: pushes and shifts give the same items, length, at() and filter() as an array', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.constant(-1), fc.constant(-2)), { maxLength: 500 }), (ops) => {
        const fifo = new Fifo<number>();
        const model: number[] = [];
        for (const op of ops) {
          if (op === -1) assert.equal(fifo.shift(), model.shift());
          else if (op === -2) assert.deepEqual(fifo.filter((n) => n % 2 === 0), model.filter((n) => n % 2 === 0));
          else {
            fifo.push(op);
            model.push(op);
          }
          assert.equal(fifo.length, model.length);
          assert.equal(fifo.at(0), model[0]);
          assert.equal(fifo.at(model.length - 1), model.at(-1));
          assert.equal(fifo.at(model.length), undefined);
        }
        assert.deepEqual(fifo.filter(() => true), model);
      }),
      { numRuns: 500, seed: 20261206 },
    );
  });

  test('a long run of push-one, shift-one keeps only what is queued', () => {
    const fifo = new Fifo<number>();
    for (let n = 0; n < 1000; n++) fifo.push(n);
    for (let n = 1000; n < 100_000; n++) {
      fifo.push(n);
      assert.equal(fifo.shift(), n - 1000);
    }
    assert.equal(fifo.length, 1000);
    assert.equal(fifo.at(0), 99_000);
  });
});
