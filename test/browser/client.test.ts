/**
 * The reconnecting client in a real browser (Debian's Chromium, headless): opening, surviving a
 * server restart, flushing its queue in order, the heartbeat, and the close-code policy, with
 * the browser's own WebSocket. Each test gets a fresh server, browser context and page.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import type { Page } from 'playwright-core';
import { browserSkip } from '../helpers/browser.js';
import type { LifelineServer } from '../../src/server/server.js';
import type { ServerOptions } from '../../src/server/options.js';
import type { CloseReport } from '../../src/server/connection.js';
import type { ServerFixture } from '../../src/testing/server-fixture.js';
import type { PageClientOptions } from './page-harness.js';
import {
  browserSuite,
  pageLog,
  recordCloses,
  recordMessages,
  restartServer,
  startPageClient,
  startPageServer,
  waitForEntry,
  type Recorder,
} from './session.js';

const quick: PageClientOptions = { initialDelay: 50, maxDelay: 500, maxAttempts: Infinity };
const opts = { skip: browserSkip, timeout: 30_000 };

interface Setup {
  readonly fixture: ServerFixture<unknown>;
  readonly page: Page;
}

describe('ReconnectingWebSocket in Chromium', () => {
  const suite = browserSuite();

  /**
   * A server serving the page (`prepare` wires its handlers before any client exists), a fresh
   * context and page, the page's client started; all torn down after the test.
   */
  async function setup(
    t: TestContext,
    client: PageClientOptions,
    { server = {}, prepare }: { server?: ServerOptions; prepare?: (server: LifelineServer) => void } = {},
  ): Promise<Setup> {
    const { launched, assets } = suite();
    const fixture = await startPageServer(assets, server);
    prepare?.(fixture.server);
    const context = await launched.browser.newContext();
    t.after(async () => {
      await context.close();
      await fixture.close();
    });
    const page = await context.newPage();
    await startPageClient(page, fixture.url, fixture.wsUrl, client);
    return { fixture, page };
  }

  /** Restarts a server on the fixture's port after the test stopped it, closed again after the test. */
  async function restart(t: TestContext, fixture: ServerFixture<unknown>, options: ServerOptions = {}): Promise<LifelineServer> {
    const { assets } = suite();
    const server = await restartServer(fixture.port, assets, options);
    t.after(() => server.close({ drainTimeout: 0 }));
    return server;
  }

  test('opens: state open, readyState 1, and an echo round trip', opts, async (t) => {
    const { page } = await setup(t, quick, { prepare: (server) => server.on('message', (c, message) => c.send({ type: 'echo', message })) });
    await waitForEntry(page, { type: 'open' });
    assert.deepEqual(await page.evaluate(() => [window.harness.state(), window.harness.readyState()]), ['open', 1]);
    assert.equal(await page.evaluate(() => window.harness.send(JSON.stringify({ type: 'hello', n: 1 }))), 'sent');
    const reply = await waitForEntry(page, { type: 'message' });
    assert.deepEqual(JSON.parse(reply.data ?? ''), { type: 'echo', message: { type: 'hello', n: 1 } });
  });

  test('server restart (1012): close, reconnecting, then open again on its own', opts, async (t) => {
    const { fixture, page } = await setup(t, quick);
    await waitForEntry(page, { type: 'open' });
    await fixture.server.close({ code: 1012, retryAfter: 100, retrySpread: 100 });
    const server = await restart(t, fixture);
    server.on('message', (connection, message) => connection.send({ type: 'echo', message }));

    const closed = await waitForEntry(page, { type: 'close' });
    assert.equal(closed.code, 1012);
    assert.equal(closed.willReconnect, true);
    assert.equal(closed.wasClean, true);
    const reconnecting = await waitForEntry(page, { type: 'reconnecting' }, { from: closed.index });
    assert.equal(reconnecting.code, 1012);
    // The server's hint: retry after 100 ms, spread over 100 ms.
    assert.ok(reconnecting.delay !== undefined && reconnecting.delay >= 100 && reconnecting.delay <= 200, `delay ${reconnecting.delay}`);
    const reopened = await waitForEntry(page, { type: 'open' }, { from: reconnecting.index });
    assert.ok(reopened.t - closed.t >= 100, `reopened ${reopened.t - closed.t} ms after the close, before the hint allowed`);
    assert.deepEqual(await page.evaluate(() => [window.harness.state(), window.harness.readyState()]), ['open', 1]);
    assert.equal(await page.evaluate(() => window.harness.send(JSON.stringify({ type: 'again' }))), 'sent');
    await waitForEntry(page, { type: 'message' }, { from: reopened.index });
  });

  test('messages sent while the server is down are flushed in order, before newer ones', opts, async (t) => {
    const { fixture, page } = await setup(t, quick);
    await waitForEntry(page, { type: 'open' });
    await fixture.server.close({ code: 1012, retryAfter: 100, retrySpread: 0 });
    const closed = await waitForEntry(page, { type: 'close', code: 1012 });

    const numbers = Array.from({ length: 20 }, (_, i) => i + 1);
    const outcomes = await page.evaluate((items) => window.harness.sendAll(items), numbers.map((n) => JSON.stringify({ type: 'n', n })));
    assert.deepEqual(outcomes, numbers.map(() => 'queued'));
    assert.notEqual(await page.evaluate(() => window.harness.state()), 'open');

    const server = await restart(t, fixture);
    const received = recordMessages(server);
    await waitForEntry(page, { type: 'open' }, { from: closed.index });
    assert.equal(await page.evaluate(() => window.harness.send(JSON.stringify({ type: 'n', n: 'after' }))), 'sent');
    await received.until((items) => items.length >= 21, '21 messages');
    assert.deepEqual(
      received.items.map((m) => m.n),
      [...numbers, 'after'],
    );
  });

  test('heartbeat: a silent server is declared dead (1006 heartbeat timeout, never 1000), then reconnected', opts, async (t) => {
    let serverCloses: Recorder<CloseReport> | undefined;
    const { page } = await setup(
      t,
      { ...quick, heartbeat: { watchdog: 1500, pingInterval: 0 } },
      { server: { pingInterval: 0 }, prepare: (server) => (serverCloses = recordCloses(server)) },
    );
    assert.ok(serverCloses);
    const opened = await waitForEntry(page, { type: 'open' });
    const closed = await waitForEntry(page, { type: 'close' }, { timeout: 6000 });
    assert.equal(closed.code, 1006);
    assert.equal(closed.reason, 'heartbeat timeout');
    assert.equal(closed.willReconnect, true);
    assert.ok(closed.t - opened.t >= 1450, `declared dead ${closed.t - opened.t} ms after open, before the 1500 ms watchdog`);
    await waitForEntry(page, { type: 'reconnecting', code: 1006 }, { from: closed.index });
    await waitForEntry(page, { type: 'open' }, { from: closed.index });
    // The browser told the server why, with Lifeline's timeout code (4408), not 1000.
    const [report] = await serverCloses.until((items) => items.length >= 1, 'the server to see the first connection close');
    assert.equal(report?.code, 4408);
    const log = await pageLog(page);
    assert.deepEqual(
      log.filter((e) => e.type === 'close' && e.code === 1000),
      [],
    );
  });

  test('4403 from the server is fatal: closed, no reconnect', opts, async (t) => {
    const { page } = await setup(t, quick, { prepare: (server) => server.on('connection', (c) => c.close(4403, 'forbidden')) });
    const closed = await waitForEntry(page, { type: 'close' });
    assert.equal(closed.code, 4403);
    assert.equal(closed.reason, 'forbidden');
    assert.equal(closed.willReconnect, false);
    assert.equal(closed.action, 'fatal');
    assert.equal(closed.state, 'closed');
    assert.deepEqual(await page.evaluate(() => [window.harness.state(), window.harness.readyState()]), ['closed', 3]);
    assert.equal(await page.evaluate(() => window.harness.count('reconnecting')), 0);
  });

  test('1013 with a retry hint: the reconnect waits exactly the hinted delay', opts, async (t) => {
    let accepted = 0;
    const { page } = await setup(t, quick, {
      prepare: (server) =>
        server.on('connection', (connection) => {
          if (accepted++ === 0) connection.close(1013, 'retry after 200 ms, spread over 0 ms');
        }),
    });
    const closed = await waitForEntry(page, { type: 'close' });
    assert.equal(closed.code, 1013);
    assert.equal(closed.willReconnect, true);
    const reconnecting = await waitForEntry(page, { type: 'reconnecting' }, { from: closed.index });
    assert.equal(reconnecting.code, 1013);
    assert.ok(reconnecting.delay !== undefined && reconnecting.delay >= 200 && reconnecting.delay <= 201, `delay ${reconnecting.delay}`);
    const next = await waitForEntry(page, { type: 'connecting' }, { from: reconnecting.index });
    const waited = next.t - reconnecting.t;
    assert.ok(waited >= 195 && waited < 2000, `the next attempt came ${waited} ms after the reconnecting event`);
    await waitForEntry(page, { type: 'open' }, { from: next.index });
  });
});
