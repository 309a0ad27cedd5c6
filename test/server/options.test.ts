// The server's options, validated once: a bad value throws InvalidOptionError naming the option.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidOptionError } from '../../src/core/errors.js';
import { resolveServerOptions, type ServerOptions } from '../../src/server/options.js';

test('channels: a namespace whose history or presence is malformed is refused, naming the field', () => {
  const refused: [channels: unknown, option: string][] = [
    // ttl left out: no history was kept at all, and every resume was told recovered: false.
    [{ chat: { history: { size: 100 } } }, 'channels.chat.history.ttl'],
    [{ chat: { history: { size: -1, ttl: 1000 } } }, 'channels.chat.history.size'],
    [{ chat: { history: { size: '10', ttl: 1000 } } }, 'channels.chat.history.size'],
    [{ chat: { history: { size: Number.NaN, ttl: 1000 } } }, 'channels.chat.history.size'],
    [{ chat: { history: 100 } }, 'channels.chat.history'],
    [{ '*': { presence: 'yes' } }, 'channels.*.presence'],
    [{ chat: true }, 'channels.chat'],
    [[], 'channels'],
  ];
  for (const [channels, option] of refused) {
    assert.throws(
      () => resolveServerOptions({ channels } as ServerOptions),
      (error: unknown) => error instanceof InvalidOptionError && error.option === option,
      `${JSON.stringify(channels)} names ${option}`,
    );
  }
});

test('channels: what the docs allow is taken as given (Infinity, a fractional size, no history, presence)', () => {
  const channels = {
    chat: { history: { size: 100, ttl: 300_000 }, presence: true },
    log: { history: { size: Infinity, ttl: Infinity } },
    odd: { history: { size: 2.5, ttl: 0 } },
    '*': {},
  };
  assert.equal(resolveServerOptions({ channels }).channels, channels);
  assert.deepEqual(resolveServerOptions({}).channels, {});
});

test('path: a value with "?" or "#" is refused (no request path holds one: the endpoint could never be reached)', () => {
  for (const path of ['/ws?v=1', '/ws#top', ['/ok', '/live?']]) {
    assert.throws(
      () => resolveServerOptions({ path }),
      (error: unknown) => error instanceof InvalidOptionError && error.option === 'path' && /"\?" or "#"/.test(error.message),
      JSON.stringify(path),
    );
  }
  assert.deepEqual(resolveServerOptions({ path: ['/ws', '/a/b'] }).paths, ['/ws', '/a/b']);
});

test('path: a value with a dot segment or a backslash is refused (no target names it as sent; targets are never resolved)', () => {
  for (const path of ['/a/./b', '/a/../ws', ['/ok', '/x/%2e%2e/y'], '/a\\b']) {
    assert.throws(
      () => resolveServerOptions({ path }),
      (error: unknown) => error instanceof InvalidOptionError && error.option === 'path' && /segment or a backslash/.test(error.message),
      JSON.stringify(path),
    );
  }
  assert.deepEqual(resolveServerOptions({ path: ['/ws', '/a.b/c..d'] }).paths, ['/ws', '/a.b/c..d']);
});
