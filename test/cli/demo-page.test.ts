// The demo page in real Chromium against the built `lifeline serve`: it connects with the real
// client, shows the state and the timeline, and its buttons do what they say.
// Without Chromium the test skips and says why; on CI (CI=true) a missing browser fails it.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startServe, stopAll, within, type RunningServer } from './harness.js';

const chromiumPath = process.env.LIFELINE_CHROMIUM ?? '/usr/bin/chromium';
const skip = existsSync(chromiumPath) || process.env.CI === 'true' ? false : `no Chromium at ${chromiumPath} (apt-get install -y chromium)`;
const WAIT = { timeout: 10_000 };

let server: RunningServer;
let browser: Browser | undefined;
let page: Page;
const pageErrors: string[] = [];

before(async () => {
  if (skip !== false) return;
  server = await startServe(['--port', '0']);
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  page = await browser.newPage();
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  await page.goto(server.url, WAIT);
});
after(async () => {
  await browser?.close();
  await stopAll();
});

const clientState = (): Promise<string | undefined> => page.evaluate(() => window.__lifeline?.state);
const waitForState = (state: string): Promise<unknown> => page.waitForFunction((s) => window.__lifeline?.state === s, state, WAIT);
const lastEvent = (kind: string): string => `#timeline .event[data-kind="${kind}"]:last-child`;

test('connects with the real client and lights "open"', { skip }, async () => {
  await waitForState('open');
  await page.waitForSelector('.node.is-current[data-state="open"]', WAIT);
  assert.equal(await page.textContent('#status-text'), 'open');
  assert.equal(await page.locator('#timeline .event[data-kind="connecting"]').count(), 1, (await page.textContent('#timeline')) ?? '');
  assert.match((await page.textContent('#timeline .event[data-kind="open"]')) ?? '', /connected in/);
  assert.match((await page.textContent('#fact-online')) ?? '', /^\d+$/);
});

test('"Drop link" produces a real 1006, a countdown, and a reconnect', { skip }, async () => {
  await page.click('#btn-drop');
  await page.waitForSelector('#timeline .event[data-kind="close"]', WAIT);
  const close = (await page.textContent('#timeline .event[data-kind="close"]')) ?? '';
  assert.match(close, /1006 abnormal closure/);
  assert.match(close, /wasClean: false/);
  assert.match(close, /willReconnect: true/);
  await page.waitForSelector('#timeline .event[data-kind="reconnecting"] .countdown', WAIT);
  await page.waitForSelector(lastEvent('open'), WAIT);
  assert.equal(await clientState(), 'open');
  assert.match((await page.textContent('#timeline .event[data-kind="reconnecting"]')) ?? '', /waited/);
});

test('chat messages go through the server and come back', { skip }, async () => {
  await page.fill('#chat-name', 'ada');
  await page.fill('#chat-text', 'hello from the browser');
  await page.click('#composer button[type="submit"]');
  await page.waitForSelector('.msg.is-self', WAIT);
  assert.equal(await page.textContent('.msg.is-self .msg-text'), 'hello from the browser');
  assert.equal(await page.inputValue('#chat-text'), '');
});

test('"Close (1000)" closes for good; "Reconnect" brings it back', { skip }, async () => {
  await page.click('#btn-close');
  await waitForState('closed');
  await page.waitForSelector(lastEvent('close'), WAIT);
  const close = (await page.textContent(lastEvent('close'))) ?? '';
  assert.match(close, /1000 normal closure/);
  assert.match(close, /willReconnect: false/);
  assert.equal(await page.isDisabled('#btn-drop'), true);
  await page.click('#btn-reconnect');
  await waitForState('open');
  await page.waitForSelector(lastEvent('open'), WAIT);
});

test('a server restart (SIGTERM) shows 1012 with the retry hint, and the client waits to retry', { skip }, async () => {
  const closed = page.waitForSelector(`#timeline .event[data-kind="close"]:has-text("1012")`, WAIT);
  server.child.kill('SIGTERM');
  const entry = await closed;
  const text = (await entry.textContent()) ?? '';
  assert.match(text, /1012 service restart/);
  assert.match(text, /retry after \d+ ms/);
  await page.waitForSelector(`${lastEvent('reconnecting')}, #timeline .event[data-kind="reconnecting"]:has-text("the server asked")`, WAIT);
  assert.deepEqual(await within(15_000, 'server exit', server.exited), { code: 0, signal: null });
  assert.deepEqual(pageErrors, []);
});
