/**
 * The ack a publish is answered with is written out by hand (every acknowledged publish builds
 * one): it must be the very text JSON.stringify makes of the same reply, whatever the epoch holds
 * and from one epoch to the next (the last epoch's JSON is kept).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ackText } from '../../src/protocol/server-messages.js';

const stringified = (id: number, epoch: string, offset: number): string => JSON.stringify({ type: 'ack', id, position: { epoch, offset } });

test('an ack is the text JSON.stringify makes of it, epochs changing or not', () => {
  const safe = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
  const epochs = fc.oneof(fc.constantFrom('e1', 'e1', 'e"\\\u2028\n'), fc.string({ minLength: 1, maxLength: 64 }), fc.string({ unit: 'grapheme', maxLength: 8 }));
  fc.assert(
    fc.property(fc.array(fc.tuple(safe.filter((id) => id > 0), epochs, safe), { minLength: 1, maxLength: 20 }), (acks) => {
      for (const [id, epoch, offset] of acks) {
        const text = ackText(id, { epoch, offset });
        assert.equal(text, stringified(id, epoch, offset));
        assert.deepEqual(JSON.parse(text), { type: 'ack', id, position: { epoch, offset } });
      }
    }),
  );
});

test('an epoch with a lone surrogate or a control character is escaped as JSON.stringify escapes it', () => {
  for (const epoch of ['\ud800', 'a\u0001b', '\u007f', '', 'e1']) assert.equal(ackText(7, { epoch, offset: 0 }), stringified(7, epoch, 0));
});
