import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { closeActions, closeCodes, closeSeverity, describeCloseCode, isSendableCloseCode } from '../../src/core/close-codes.js';
import { assertValidClose, fitCloseReason, MAX_CLOSE_REASON_BYTES } from '../../src/core/close-frame.js';
import { InvalidCloseError } from '../../src/core/errors.js';
import { utf8ByteLength } from '../../src/core/utf8.js';

describe('close codes', () => {
  test('severity: normal for 1000/1001/1005, fatal for every fatal code, abnormal for an unclean close and 1011/1014, expected otherwise', () => {
    for (const { code, action } of closeCodes) {
      const clean = closeSeverity(code, true);
      if (code === 1000 || code === 1001 || code === 1005) assert.equal(clean, 'normal', String(code));
      else if (code === 1011 || code === 1014) assert.equal(clean, 'abnormal', String(code));
      else assert.equal(clean, action === 'fatal' ? 'fatal' : 'expected', String(code));
      assert.equal(closeSeverity(code, false), 'abnormal', `${code} without a close handshake`);
    }
    assert.equal(closeSeverity(4000, true), 'expected', 'credentials expired is planned for');
    assert.equal(closeSeverity(4321, true), 'expected', 'an app code');
  });

  test('1005, 1006 and 1015 are never sendable; 1004 is reserved', () => {
    for (const code of [1004, 1005, 1006, 1015]) assert.equal(isSendableCloseCode(code), false, String(code));
  });

  test('sendable codes are exactly 1000-1003, 1007-1014 and 3000-4999 (RFC 6455 §7.4)', () => {
    for (let code = 0; code <= 5100; code++) {
      const expected = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
      assert.equal(isSendableCloseCode(code), expected, String(code));
    }
    assert.equal(isSendableCloseCode(1000.5), false);
  });

  test('every known code has a name, a meaning and an action', () => {
    assert.ok(closeCodes.length >= 20);
    for (const info of closeCodes) {
      assert.ok(info.name.length > 0 && info.meaning.length > 10, String(info.code));
      assert.equal(describeCloseCode(info.code), info);
    }
  });

  test('the descriptions and the policy table cover the same codes', () => {
    assert.deepEqual(closeCodes.map((c) => c.code), Object.keys(closeActions).map(Number));
  });

  test('unknown application and library codes are left to the app', () => {
    assert.equal(describeCloseCode(4321).action, 'app');
    assert.equal(describeCloseCode(3001).action, 'app');
    assert.equal(describeCloseCode(2000).sendable, false);
  });
});

describe('close frame validation', () => {
  test('rejects an unsendable code with ERR_INVALID_CLOSE', () => {
    assert.throws(() => assertValidClose(1006), (error: unknown) => error instanceof InvalidCloseError && error.code === 'ERR_INVALID_CLOSE' && error.closeCode === 1006);
  });

  test('accepts 123 bytes of multi-byte reason and rejects 124', () => {
    const ok = 'é'.repeat(61) + 'a'; // 61*2 + 1 = 123 bytes
    assert.equal(utf8ByteLength(ok), 123);
    assert.doesNotThrow(() => assertValidClose(1000, ok));
    assert.throws(() => assertValidClose(1000, ok + 'a'), InvalidCloseError);
  });

  test('property: valid iff the code is sendable and the reason fits in 123 bytes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 6000 }), fc.string({ unit: 'grapheme', maxLength: 80 }), (code, reason) => {
        const shouldPass = isSendableCloseCode(code) && new TextEncoder().encode(reason).length <= MAX_CLOSE_REASON_BYTES;
        let passed = true;
        try {
          assertValidClose(code, reason);
        } catch {
          passed = false;
        }
        return passed === shouldPass;
      }),
      { numRuns: 3000, seed: 1 },
    );
  });

  test('property: fitCloseReason keeps a prefix that fits and splits no character', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), (reason) => {
        const fitted = fitCloseReason(reason);
        const bytes = new TextEncoder().encode(fitted).length;
        return bytes <= MAX_CLOSE_REASON_BYTES && reason.startsWith(fitted) && !fitted.includes('\uFFFD') && (bytes === utf8ByteLength(reason) ? fitted === reason : true);
      }),
      { numRuns: 2000, seed: 2 },
    );
  });

  test('utf8ByteLength agrees with TextEncoder, lone surrogates included', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 64 }), (text) => utf8ByteLength(text) === new TextEncoder().encode(text).length),
      { numRuns: 2000, seed: 3 },
    );
  });
});
