/**
 * The durable outbox in a real browser (Debian's Chromium, headless): a page publishes through
 * an IndexedDbOutboxStore while the server holds the publish back, the page reloads, and the new
 * page's client resumes the session and resends it; the publish is applied once.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import type { LifelineClient } from '../../src/client/index.js';
import { browserSkip } from '../helpers/browser.js';
import { browserSuite, startPageServer } from './session.js';

/** What the page's client reported, as plain data. */
type OutboxLogEntry =
  | { readonly type: 'session'; readonly id: string; readonly resumed: boolean }
  | { readonly type: 'outbox'; readonly body: string; readonly id: number; readonly value?: unknown; readonly error?: string }
  | { readonly type: 'error'; readonly message: string };

declare global {
  interface Window {
    outboxTest?: { readonly client: LifelineClient; readonly log: OutboxLogEntry[] };
  }
}

const opts = { skip: browserSkip, timeout: 30_000 };
const STORE = 'lifeline-outbox-test';

/** Loads the test page and starts a LifelineClient with the IndexedDB outbox in it. */
async function startOutboxPage(page: Page, baseUrl: string, wsUrl: string): Promise<void> {
  await page.goto(`${baseUrl}/`);
  await page.evaluate(
    ([url, name]) => {
      const { LifelineClient: Client, IndexedDbOutboxStore } = window.Lifeline;
      const log: OutboxLogEntry[] = [];
      const client = new Client(url, { outbox: new IndexedDbOutboxStore(name), initialDelay: 50, maxDelay: 500 });
      client.addEventListener('session', (e) => log.push({ type: 'session', id: e.id, resumed: e.resumed }));
      client.addEventListener('outbox', (e) => log.push({ type: 'outbox', body: e.entry.body, id: e.entry.id, value: e.value, error: e.error?.code }));
      client.addEventListener('error', (e) => log.push({ type: 'error', message: e.error.message }));
      window.outboxTest = { client, log };
    },
    [wsUrl, STORE] as const,
  );
}

/** Waits for the page's log to hold an entry of `type` (polling in the page), and returns the log. */
async function waitForLog(page: Page, type: OutboxLogEntry['type'], what: string): Promise<OutboxLogEntry[]> {
  try {
    await page.waitForFunction((t) => window.outboxTest?.log.some((e) => e.type === t) === true, type, { polling: 20, timeout: 5_000 });
  } catch (error) {
    const log = await page.evaluate(() => window.outboxTest?.log ?? []).catch(() => []);
    throw new Error(`no "${type}" in the page's log (${what}); the log: ${JSON.stringify(log)}`, { cause: error });
  }
  return page.evaluate(() => window.outboxTest?.log ?? []);
}

/** What the page's IndexedDB outbox holds now. */
function storedEntries(page: Page): Promise<number> {
  return page.evaluate(async (name) => (await new window.Lifeline.IndexedDbOutboxStore(name).load())?.entries.length ?? -1, STORE);
}

describe('IndexedDbOutboxStore in Chromium', () => {
  const suite = browserSuite();

  test('a publish held by the server survives a page reload and is applied once', opts, async (t) => {
    const { launched, assets } = suite();
    let checks = 0;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let held: () => void = () => undefined;
    const holding = new Promise<void>((resolve) => (held = resolve));
    const fixture = await startPageServer(assets, {
      channels: { chat: { history: { size: 100, ttl: 300_000 } } },
      canPublish: async () => {
        if (++checks === 1) {
          held();
          await gate; // no ack before the page reloads
        }
        return true;
      },
    });
    const context = await launched.browser.newContext();
    t.after(async () => {
      release();
      await context.close();
      await fixture.close();
    });
    const page = await context.newPage();
    await startOutboxPage(page, fixture.url, fixture.wsUrl);
    const [first] = await waitForLog(page, 'session', 'the first page welcomed');
    assert.ok(first?.type === 'session' && !first.resumed);
    await page.evaluate(() => {
      window.outboxTest?.client.publish('chat:reload', 'from the page').catch(() => undefined);
    });
    await holding; // saved in IndexedDB (it goes out only then), and now held by the server
    assert.equal(await storedEntries(page), 1);

    await page.reload();
    await startOutboxPage(page, fixture.url, fixture.wsUrl);
    const [again] = await waitForLog(page, 'session', 'the reloaded page welcomed');
    assert.deepEqual(again, { type: 'session', id: first.id, resumed: true }, 'the stored session was resumed');
    release(); // the held publish completes; the resend gets its stored ack
    const log = await waitForLog(page, 'outbox', 'the outcome of the stored publish');
    const outcome = log.find((e) => e.type === 'outbox');
    assert.ok(outcome?.type === 'outbox');
    assert.equal(outcome.body, JSON.stringify({ type: 'publish', channel: 'chat:reload', data: 'from the page' }));
    assert.equal(outcome.id, 1);
    assert.equal(outcome.error, undefined);
    assert.equal((outcome.value as { offset: number }).offset, 1);
    assert.equal((await fixture.server.publish('chat:reload', 'marker')).offset, 2, 'exactly one event before the marker');
    assert.equal(checks, 1, 'the resend was answered from the session window, not run again');
    await page.waitForFunction((name) => new window.Lifeline.IndexedDbOutboxStore(name).load().then((s) => s?.entries.length === 0), STORE, { polling: 50, timeout: 5_000 });
    assert.deepEqual(
      log.filter((e) => e.type === 'error'),
      [],
    );
  });
});
