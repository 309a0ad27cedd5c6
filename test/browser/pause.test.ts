/**
 * The client's environment rules in a real browser: it pauses while the page is hidden or the
 * device is offline, and retries at once when the page is visible and online again.
 *
 * Hidden pages are real: the page's window is minimized, and Chromium itself sets
 * `document.visibilityState` and fires `visibilitychange` (see `openHideablePage`).
 * Offline is Playwright's `context.setOffline`, which makes Chromium fire `offline`/`online`.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import type { Page } from 'playwright-core';
import { browserSkip, type HideablePage } from '../helpers/browser.js';
import type { LifelineServer } from '../../src/server/server.js';
import type { ServerFixture } from '../../src/testing/server-fixture.js';
import type { PageClientOptions } from './page-harness.js';
import { browserSuite, countHandshakes, restartServer, startPageServer, waitForEntry } from './session.js';

/** Retries come fast: a client that is not paused makes several attempts per second. */
const eager: PageClientOptions = { initialDelay: 50, maxDelay: 200, maxAttempts: Infinity };
/** The first retry waits a full minute: only the environment can explain an earlier attempt. */
const patient: PageClientOptions = { initialDelay: 60_000, maxDelay: 60_000, jitter: 'none', maxAttempts: Infinity };
const opts = { skip: browserSkip, timeout: 30_000 };

describe('ReconnectingWebSocket pauses in Chromium', () => {
  const suite = browserSuite();

  /** A hideable page loaded from a server that is then stopped, so the client starts against a dead port. */
  async function hideablePageWithServerDown(t: TestContext): Promise<{ hideable: HideablePage; fixture: ServerFixture<unknown> }> {
    const { launched, assets } = suite();
    const fixture = await startPageServer(assets);
    const hideable = await launched.openHideablePage();
    t.after(async () => {
      await hideable.page.evaluate(() => window.harness.dispose()).catch(() => undefined);
      await hideable.close();
      await fixture.close();
    });
    await hideable.page.goto(`${fixture.url}/`);
    await fixture.server.close({ drainTimeout: 0 });
    return { hideable, fixture };
  }

  async function startClient(page: Page, fixture: ServerFixture<unknown>, options: PageClientOptions): Promise<void> {
    await page.evaluate(([url, o]) => window.harness.start(url, o), [fixture.wsUrl, options] as const);
  }

  /** The page's client has failed its first attempt and waits the full patient delay. */
  async function waitingOneMinute(page: Page): Promise<void> {
    const reconnecting = await waitForEntry(page, { type: 'reconnecting' });
    assert.equal(reconnecting.code, 1006);
    assert.equal(reconnecting.delay, 60_000);
    assert.equal(reconnecting.state, 'reconnecting');
  }

  async function restart(t: TestContext, fixture: ServerFixture<unknown>): Promise<LifelineServer> {
    const { assets } = suite();
    const server = await restartServer(fixture.port, assets);
    t.after(() => server.close({ drainTimeout: 0 }));
    return server;
  }

  test('a hidden page pauses: no connection attempts while hidden', opts, async (t) => {
    const { hideable, fixture } = await hideablePageWithServerDown(t);
    const { page } = hideable;
    await startClient(page, fixture, eager);
    // The control: while visible, the client keeps retrying the dead port.
    assert.ok((await page.evaluate(() => window.harness.countDuring('connecting', 1000))) >= 2, 'a visible client should be retrying');

    await hideable.setHidden(true);
    const hidden = await waitForEntry(page, { type: 'visibilitychange', visibility: 'hidden' });
    // An attempt in flight when the page was hidden may still fail first; then the client pauses.
    await waitForEntry(page, { type: 'statechange', to: 'paused' }, { from: hidden.index });
    assert.equal(await page.evaluate(() => window.harness.countDuring('connecting', 1500)), 0);
    assert.equal(await page.evaluate(() => window.harness.state()), 'paused');
    assert.equal(await page.evaluate(() => window.harness.readyState()), 0);
  });

  test('visible again: reconnects at once, long before its backoff delay', opts, async (t) => {
    const { hideable, fixture } = await hideablePageWithServerDown(t);
    const { page } = hideable;
    await startClient(page, fixture, patient);
    await waitingOneMinute(page);
    const server = await restart(t, fixture);
    const handshakes = countHandshakes(server);

    await hideable.setHidden(true);
    await waitForEntry(page, { type: 'statechange', from: 'reconnecting', to: 'paused' });
    // Paused with a live server: nothing is attempted while hidden.
    assert.equal(await page.evaluate(() => window.harness.countDuring('connecting', 1000)), 0);
    assert.equal(handshakes.count, 0);

    await hideable.setHidden(false);
    const visible = await waitForEntry(page, { type: 'visibilitychange', visibility: 'visible' });
    const connecting = await waitForEntry(page, { type: 'connecting' }, { from: visible.index });
    const opened = await waitForEntry(page, { type: 'open' }, { from: connecting.index });
    assert.ok(connecting.t - visible.t < 100, `the attempt started ${connecting.t - visible.t} ms after the page became visible`);
    assert.ok(opened.t - visible.t < 5000, `open ${opened.t - visible.t} ms after the page became visible (the backoff said 60 s)`);
    assert.equal(handshakes.count, 1);
  });

  test('offline pauses, online retries at once', opts, async (t) => {
    const { launched, assets } = suite();
    const fixture = await startPageServer(assets);
    const context = await launched.browser.newContext();
    t.after(async () => {
      await context.close();
      await fixture.close();
    });
    const page = await context.newPage();
    await page.goto(`${fixture.url}/`);
    await fixture.server.close({ drainTimeout: 0 });
    await startClient(page, fixture, patient);
    await waitingOneMinute(page);
    const server = await restart(t, fixture);
    const handshakes = countHandshakes(server);

    await context.setOffline(true);
    const offline = await waitForEntry(page, { type: 'offline', online: false });
    const paused = await waitForEntry(page, { type: 'statechange', from: 'reconnecting', to: 'paused' }, { from: offline.index });
    assert.equal(paused.index, offline.index + 1, 'the client should pause on the offline event itself');
    assert.equal(await page.evaluate(() => window.harness.countDuring('connecting', 1000)), 0);
    assert.equal(handshakes.count, 0);

    await context.setOffline(false);
    const online = await waitForEntry(page, { type: 'online', online: true });
    const connecting = await waitForEntry(page, { type: 'connecting' }, { from: online.index });
    const opened = await waitForEntry(page, { type: 'open' }, { from: connecting.index });
    assert.ok(connecting.t - online.t < 100, `the attempt started ${connecting.t - online.t} ms after the online event`);
    assert.ok(opened.t - online.t < 5000, `open ${opened.t - online.t} ms after the online event (the backoff said 60 s)`);
    assert.equal(handshakes.count, 1);
  });
});
