import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { controlType, decodeEnvelope, encodeEnvelope, MAX_TYPE_LENGTH } from '../../src/core/envelope.js';

const envelope = fc
  .record({ type: fc.string({ minLength: 1, maxLength: MAX_TYPE_LENGTH }) })
  .chain((base) => fc.dictionary(fc.string().filter((k) => k !== 'type' && k !== '__proto__'), fc.jsonValue()).map((rest) => ({ ...rest, ...base })));

describe('envelope codec', () => {
  test('property: decode(encode(m)) deep-equals m for every envelope', () => {
    fc.assert(
      fc.property(envelope, (message) => {
        const decoded = decodeEnvelope(encodeEnvelope(message));
        return decoded.ok && JSON.stringify(decoded.message) === JSON.stringify(JSON.parse(JSON.stringify(message)));
      }),
      { numRuns: 1000, seed: 11 },
    );
  });

  test('property: any text decodes to an envelope or a stable error code, never throws', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (text) => {
        const decoded = decodeEnvelope(text);
        return decoded.ok ? typeof decoded.message.type === 'string' : ['bad_json', 'not_object', 'bad_type'].includes(decoded.code);
      }),
      { numRuns: 2000, seed: 12 },
    );
  });

  test('names what is wrong', () => {
    assert.deepEqual(decodeEnvelope('{').ok, false);
    assert.equal((decodeEnvelope('{') as { code: string }).code, 'bad_json');
    assert.equal((decodeEnvelope('[1]') as { code: string }).code, 'not_object');
    assert.equal((decodeEnvelope('{"type":3}') as { code: string }).code, 'bad_type');
    assert.equal((decodeEnvelope('{"type":""}') as { code: string }).code, 'bad_type');
    assert.equal((decodeEnvelope(JSON.stringify({ type: 'x'.repeat(65) })) as { code: string }).code, 'bad_type');
  });

  test('encode refuses a value that is not an envelope', () => {
    assert.throws(() => encodeEnvelope({ type: '' }), TypeError);
  });

  test('control messages are recognised without parsing', () => {
    assert.equal(controlType('{"type":"ping"}'), 'ping');
    assert.equal(controlType('{"type":"pong","id":1}'), 'pong');
    assert.equal(controlType('{"type":"publish"}'), undefined);
    assert.equal(controlType('hello'), undefined);
  });
});
