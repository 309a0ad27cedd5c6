import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import WebSocket from 'ws';
import { silentLogger } from '../../src/core/logger.js';
import { PEER_WARNINGS_PER_SECOND } from '../../src/server/connection-registry.js';
import { FakeClock } from '../../src/testing/fake-clock.js';
import { startServer } from '../../src/testing/server-fixture.js';
import { within } from '../helpers/wait.js';

function memoryLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

test('an abnormal close is logged at warn with its code; a normal one is not', async () => {
  const { logger, lines } = memoryLogger();
  const fixture = await startServer({ logger });
  try {
    const polite = new WebSocket(fixture.wsUrl);
    await once(polite, 'open');
    const politeClosed = once(fixture.server, 'disconnect');
    polite.close(1000);
    await within(politeClosed, 5_000, 'normal close');

    const rude = new WebSocket(fixture.wsUrl);
    await once(rude, 'open');
    const rudeClosed = once(fixture.server, 'disconnect');
    rude.terminate();
    const [, report] = await within(rudeClosed, 5_000, 'abnormal close');
    assert.equal(report.code, 1006);
    assert.equal(report.wasClean, false);

    const warnings = lines.filter((l) => l.msg === 'abnormal close');
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]?.level, 40); // pino's warn
    assert.equal(warnings[0]?.code, 1006);
  } finally {
    await fixture.close();
  }
});

test('abnormal closes are logged at most PEER_WARNINGS_PER_SECOND a second; the next line says how many were left out (fake clock)', async () => {
  const { logger, lines } = memoryLogger();
  const clock = new FakeClock();
  const fixture = await startServer({ logger, clock, pingInterval: 0 });
  /** Opens a raw ws client and drops it without a close handshake; resolves when the server heard the 1006. */
  const dropOne = async (): Promise<void> => {
    const rude = new WebSocket(fixture.wsUrl);
    await once(rude, 'open');
    const closed = once(fixture.server, 'disconnect');
    rude.terminate();
    await within(closed, 5_000, 'abnormal close');
  };
  try {
    const dropped = PEER_WARNINGS_PER_SECOND + 10;
    for (let n = 0; n < dropped; n++) await dropOne();
    const abnormal = () => lines.filter((l) => l.msg === 'abnormal close');
    assert.equal(abnormal().length, PEER_WARNINGS_PER_SECOND, 'one line each up to the budget, within the second');
    assert.ok(abnormal().every((l) => l.suppressed === undefined));
    assert.equal(fixture.server.stats.closes.get(1006), dropped, 'every close counted in the stats all the same');
    clock.tick(1_000);
    await dropOne();
    assert.equal(abnormal().length, PEER_WARNINGS_PER_SECOND + 1);
    assert.equal(abnormal().at(-1)?.suppressed, 10, 'the ten left out, said on the next line');
  } finally {
    await fixture.close();
  }
});

test('logger: any { debug, info, warn, error } object gets fields and a message; false silences the server', async () => {
  const lines: string[] = [];
  const keep = (level: string) => (fields: object, message: string) => void lines.push(`${level} ${message} ${String((fields as { code?: unknown }).code)}`);
  const plain = { debug: keep('debug'), info: keep('info'), warn: keep('warn'), error: keep('error') };
  for (const logger of [plain, false] as const) {
    const fixture = await startServer({ logger });
    try {
      const rude = new WebSocket(fixture.wsUrl);
      await once(rude, 'open');
      const closed = once(fixture.server, 'disconnect');
      rude.terminate();
      await within(closed, 5_000, 'abnormal close');
      if (logger === false) assert.equal(fixture.server.log, silentLogger);
    } finally {
      await fixture.close();
    }
  }
  assert.deepEqual(lines.filter((line) => line.includes('abnormal close')), ['warn abnormal close 1006'], 'logged once, through the plain object only');
});

test('close log levels follow the close-code table: a clean 4000 (credentials expired) is info, a fatal 1008 warn, a normal 1000 below info', async () => {
  const { logger, lines } = memoryLogger();
  const fixture = await startServer({ logger });
  try {
    for (const [code, by] of [
      [1000, 'client'],
      [4000, 'server'],
      [1008, 'server'],
      [1011, 'server'],
    ] as const) {
      const socket = new WebSocket(fixture.wsUrl);
      socket.on('error', () => undefined);
      const [connection] = (await within(once(fixture.server, 'connection'), 5_000, 'connected')) as [{ close(code: number, reason: string): void }];
      await within(once(socket, 'open'), 5_000, 'open');
      const closed = once(fixture.server, 'disconnect');
      if (by === 'client') socket.close(code);
      else connection.close(code, 'test');
      const [, report] = await within(closed, 5_000, `close ${code}`);
      assert.equal(report.wasClean, true, `${code} closed cleanly`);
    }
    const byCode = (code: number) => lines.filter((l) => l.code === code && typeof l.msg === 'string' && l.msg.endsWith(' close'));
    assert.deepEqual(byCode(1000), [], 'a normal close is not logged at info');
    assert.deepEqual(byCode(4000).map((l) => [l.level, l.msg, l.name]), [[30, 'expected close', 'auth expired']]);
    assert.deepEqual(byCode(1008).map((l) => [l.level, l.msg]), [[40, 'fatal close']]);
    assert.deepEqual(byCode(1011).map((l) => [l.level, l.msg]), [[40, 'abnormal close']]);
  } finally {
    await fixture.close();
  }
});
