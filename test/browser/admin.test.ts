/**
 * The admin page (`/admin` of `lifeline serve --demo`) in real Chromium: it asks for the key,
 * refuses a wrong one, and once unlocked shows the same numbers as /metrics (open connections,
 * messages received, closes by code), the channels and the connections. Node clients make the
 * traffic. A screenshot goes to test-results/screenshots/admin.png.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { WebSocket } from 'ws';
import { LifelineClient } from '../../src/client/node.js';
import { browserSkip, launchBrowser, type LaunchedBrowser } from '../helpers/browser.js';
import { within } from '../helpers/wait.js';
import { screenshot, WAIT } from './demo-page.js';
import { metricValue, startDemoServer, type DemoServer } from './demo-server.js';

const opts = { skip: browserSkip, timeout: 60_000 };

async function token(base: string, user: string): Promise<string> {
  const response = await fetch(`${base}/demo/token?user=${user}&ttl=300`);
  assert.equal(response.status, 200);
  return ((await response.json()) as { token: string }).token;
}

describe('admin page', { skip: browserSkip }, () => {
  let server: DemoServer;
  let launched: LaunchedBrowser;
  const clients: LifelineClient[] = [];
  /** Page and console errors of every admin page opened (a refused key's 401 aside). */
  const pageErrors: string[] = [];

  /** A Node client of `user` in chat:lobby, ready. */
  async function join(user: string): Promise<LifelineClient> {
    const ws = server.url.replace(/^http/, 'ws');
    const client = new LifelineClient(async () => `${ws}/ws?token=${await token(server.url, user)}`, { heartbeat: false });
    clients.push(client);
    client.subscribe('chat:lobby');
    await within(client.ready(), 10_000, `${user} ready`);
    return client;
  }

  const say = (client: LifelineClient, user: string, text: string): Promise<unknown> =>
    client.publish('chat:lobby', { user, text, at: Date.now(), mid: `${user}-${text}` });

  before(async () => {
    // One after the other, so a failing start still leaves `after` the browser to close.
    launched = await launchBrowser();
    server = await startDemoServer();
  });
  after(async () => {
    for (const client of clients) client.close();
    await launched?.close();
    await server?.close();
  });

  async function openAdmin(hash = `#key=${encodeURIComponent(server.adminKey)}`): Promise<Page> {
    const context = await launched.browser.newContext({ viewport: { width: 1440, height: 900 } });
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(String(error)));
    page.on('console', (message) => {
      if (message.type() === 'error' && !/\b401\b/.test(message.text())) pageErrors.push(message.text());
    });
    await page.goto(`${server.url}/admin${hash}`, WAIT);
    return page;
  }

  /** What the page shows and what /metrics says, once the two agree (the page polls every second). */
  async function agree(page: Page, pairs: readonly (readonly [selector: string, metric: string])[]): Promise<number[]> {
    const deadline = Date.now() + 10_000;
    let last = '';
    while (Date.now() < deadline) {
      const metrics = await server.metrics();
      const shown = await Promise.all(pairs.map(([selector]) => page.getAttribute(selector, 'data-value')));
      const expected = pairs.map(([, metric]) => metricValue(metrics, metric));
      if (expected.every((value, i) => value !== undefined && String(value) === shown[i])) return expected as number[];
      last = `page ${JSON.stringify(shown)} vs /metrics ${JSON.stringify(expected)}`;
      await page.waitForFunction((polls) => (window.__admin?.polls ?? 0) > polls, await page.evaluate(() => window.__admin?.polls ?? 0), WAIT);
    }
    throw new Error(`the admin page never agreed with /metrics: ${last}`);
  }

  test('the snapshot API refuses a request without the key', opts, async () => {
    const response = await fetch(`${server.url}/admin/api/snapshot`);
    assert.equal(response.status, 401);
    const page = await fetch(`${server.url}/admin`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
  });

  test('without a key it asks for one; a wrong key is refused; the right one opens it (keyboard only)', opts, async () => {
    const page = await openAdmin('');
    const input = page.getByRole('textbox', { name: 'Key' });
    await input.waitFor(WAIT);
    assert.equal(await page.isHidden('#dashboard'), true);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'key-input', 'the key field has the focus');
    await page.keyboard.type('not-the-key');
    await page.keyboard.press('Enter');
    await page.getByRole('alert').filter({ hasText: 'refused' }).waitFor(WAIT);
    assert.equal(await page.isHidden('#dashboard'), true);
    await screenshot(page, 'admin-key-refused');
    await page.keyboard.type(server.adminKey);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#dashboard:not([hidden])', WAIT);
    assert.equal(await page.textContent('#admin-status-text'), 'live');
    // Kept for this tab: a reload does not ask again; "Forget key" does.
    await page.reload(WAIT);
    await page.waitForSelector('#dashboard:not([hidden])', WAIT);
    await page.getByRole('button', { name: 'Forget key' }).click();
    await page.waitForSelector('#key-card:not([hidden])', WAIT);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    await page.context().close();
  });

  test('shows the same numbers as /metrics, the channels and the connections', opts, async () => {
    const carol = await join('carol');
    const dave = await join('dave');
    const erin = await join('erin');
    for (const [client, user] of [[carol, 'carol'], [dave, 'dave'], [erin, 'erin']] as const) {
      for (let i = 1; i <= 2; i++) await say(client, user, `message ${i}`);
    }
    carol.close(); // a clean 1000
    // A socket that drops without a close frame: 1006 on the server.
    const raw = new WebSocket(`${server.url.replace(/^http/, 'ws')}/ws?token=${await token(server.url, 'frank')}`, 'lifeline.v1');
    await within(once(raw, 'open'), 5000, 'raw socket open');
    raw.terminate();
    // A handshake without a token: refused 401.
    const refused = new WebSocket(`${server.url.replace(/^http/, 'ws')}/ws`, 'lifeline.v1');
    const refusedClosed = new Promise((resolve) => refused.on('close', resolve));
    refused.on('error', () => undefined);
    await within(refusedClosed, 5000, 'the refused handshake');

    const page = await openAdmin();
    await page.waitForSelector('#dashboard:not([hidden])', WAIT);
    assert.equal(await page.evaluate(() => location.hash), '', 'the key left the address bar');
    // The figures are this node's only, and the page says which node answered.
    await page.waitForFunction(() => /:\d+$/.test(document.getElementById('meta-node')?.textContent ?? ''), undefined, WAIT);
    assert.match((await page.textContent('#admin-sub')) ?? '', /this node only/);
    const [open, received] = await agree(page, [
      ['#tile-open', 'lifeline_connections_open'],
      ['#tile-in-total', 'lifeline_messages_received_total'],
    ]);
    assert.equal(open, 2, 'dave and erin');
    assert.ok((received ?? 0) >= 6 + 3 * 2, `hello, subscribe and two publishes per client, got ${received}`);

    const metrics = await server.metrics();
    for (const code of [1000, 1006]) {
      const expected = metricValue(metrics, `lifeline_closes_total{code="${code}"}`);
      assert.ok(expected !== undefined && expected >= 1, `/metrics counts a ${code}`);
      await page.waitForFunction(
        ([c, n]) => document.querySelector(`#close-bars .bar[data-code="${c}"] .bar-count`)?.textContent === String(n),
        [code, expected] as const,
        WAIT,
      );
    }
    assert.match((await page.textContent('#close-bars .bar[data-code="1006"]')) ?? '', /abnormal closure/);
    // The Handshakes tile shows both sides: accepted, and refused with their statuses.
    await page.waitForFunction(() => /^\d+ refused: .*401 ×\d+/.test(document.getElementById('tile-refused')?.textContent ?? ''), undefined, WAIT);
    assert.match((await page.textContent('#tile-accepted')) ?? '', /^\d+ accepted$/);

    const channels = page.getByRole('table', { name: /Channels/ });
    await channels.locator('tr[data-channel="chat:lobby"]').waitFor(WAIT);
    assert.equal(await channels.locator('tr[data-channel="chat:lobby"] td.num').textContent(), '2');
    const connections = page.getByRole('table', { name: /Open connections/ });
    await page.waitForFunction(() => document.querySelectorAll('#connections-body tr[data-id]').length === 2, undefined, WAIT);
    const users = await connections.locator('tbody tr td:nth-child(2)').allTextContents();
    // Each demo user is its token's subject: the name and a tag of its own.
    assert.deepEqual([...users].sort().map((user) => user.replace(/~[0-9a-f]{12}$/, '~tag')), ['dave~tag', 'erin~tag']);
    assert.match((await connections.locator('tbody tr').first().textContent()) ?? '', /lifeline\.v1/);

    // Traffic for the charts until the page has charted four samples with some (bounded in count
    // and so in time), then the picture.
    const charted = (): Promise<boolean> => page.evaluate(() => (window.__admin?.samples.filter((s) => (s.inRate ?? 0) > 0).length ?? 0) >= 4);
    let n = 0;
    while (!(await charted())) {
      if (n >= 1_000) throw new Error(`the admin page charted fewer than 4 samples with traffic after ${n} messages`);
      await say(n % 2 === 0 ? dave : erin, n % 2 === 0 ? 'dave' : 'erin', `load ${n}`);
      n++;
      await new Promise((resolve) => setTimeout(resolve, 120 + (n % 7) * 40));
    }
    assert.ok(Number(await page.textContent('#tile-in-rate')) > 0, 'messages per second shown');
    assert.equal(await page.locator('#chart-rate path.line').count() >= 1, true);
    await screenshot(page, 'admin');
    await page.context().close();
  });

  /** The admin page, opened with the key in a context of these options, once it has drawn three snapshots. */
  async function openPhone(options: Parameters<Browser['newContext']>[0]): Promise<{ readonly context: BrowserContext; readonly page: Page }> {
    const context = await launched.browser.newContext(options);
    try {
      const page = await context.newPage();
      page.on('pageerror', (error) => pageErrors.push(String(error)));
      await page.goto(`${server.url}/admin#key=${encodeURIComponent(server.adminKey)}`, WAIT);
      await page.waitForSelector('#dashboard:not([hidden])', WAIT);
      await page.waitForFunction(() => (window.__admin?.polls ?? 0) >= 3, undefined, WAIT);
      return { context, page };
    } catch (error) {
      await context.close();
      throw error;
    }
  }

  test('on a phone, in dark mode: nothing wider than the screen but the tables, which scroll in their cards', opts, async () => {
    const { context, page } = await openPhone({ viewport: { width: 390, height: 844 }, colorScheme: 'dark', deviceScaleFactor: 2 });
    try {
      assert.equal(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth), 0);
      assert.equal(await page.getByRole('link', { name: 'Metrics' }).isVisible(), true, 'the Metrics link is there on a phone');
      await screenshot(page, 'admin-phone-dark');
    } finally {
      await context.close();
    }
  });

  test('on the narrowest phone (320 px): the top bar wraps instead of pushing the status off the screen', opts, async () => {
    const { context, page } = await openPhone({ viewport: { width: 320, height: 640 } });
    try {
      assert.equal(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth), 0, 'no sideways scrolling of the page');
      const pill = await page.locator('#admin-status').boundingBox();
      assert.ok(pill && pill.x >= 0 && pill.x + pill.width <= 320, `the status pill is on the screen: ${JSON.stringify(pill)}`);
      await screenshot(page, 'admin-320');
    } finally {
      await context.close();
    }
  });

  test('no page errors and no console errors (the CSP blocks nothing)', opts, () => {
    assert.deepEqual(pageErrors, []);
  });
});
