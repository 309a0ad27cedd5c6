import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { closeCodes } from '../../src/core/close-codes.js';

const doc = readFileSync(new URL('../../docs/reference/close-codes.md', import.meta.url), 'utf8');

const phrase: Record<string, RegExp> = {
  stop: /^no reconnect$/,
  fatal: /^no reconnect; reported as fatal$/,
  reconnect: /^reconnect/,
  'refresh-auth': /authRequired/,
  app: /shouldReconnect/,
};

test('docs/reference/close-codes.md lists every code with its name, wire rule and client action', () => {
  for (const info of closeCodes) {
    const row = doc.split('\n').find((line) => line.startsWith(`| ${info.code} |`));
    assert.ok(row, `no row for ${info.code}`);
    const [, , name, wire, , action] = row.split('|').map((cell) => cell.trim());
    assert.equal(name, info.name, `name of ${info.code}`);
    assert.equal(wire, info.sendable ? 'yes' : '**never**', `wire rule of ${info.code}`);
    assert.match(action ?? '', phrase[info.action] ?? /^$/, `client action of ${info.code}`);
  }
});
