/**
 * Node side of the demo page tests: a page of the demo signed in under a name (its own browser
 * context, so its own storage), and waits on what the page shows.
 */
import { mkdirSync } from 'node:fs';
import type { Browser, BrowserContext, Page, Route } from 'playwright-core';

export const WAIT = { timeout: 15_000 };
export const screenshotDir = new URL('../../test-results/screenshots/', import.meta.url);

export interface DemoPage {
  readonly page: Page;
  readonly context: BrowserContext;
  /** Page errors and console errors (a CSP violation is one). */
  readonly errors: string[];
  state(): Promise<string | undefined>;
  waitForState(state: string): Promise<void>;
  send(text: string): Promise<void>;
  /** The chat lines showing `text`. */
  messages(text: string): ReturnType<Page['locator']>;
  /** Holds every token request until the returned release is called (the page cannot reconnect meanwhile). */
  holdTokens(): Promise<() => Promise<void>>;
  timelineEntry(kind: string, text?: string): ReturnType<Page['locator']>;
}

export async function openDemo(browser: Browser, baseUrl: string, name: string, viewport = { width: 1440, height: 960 }): Promise<DemoPage> {
  const context = await browser.newContext({ viewport });
  // The name a tab chats under lives in its sessionStorage (set before every load; a reload keeps it).
  await context.addInitScript((n) => sessionStorage.setItem('lifeline-demo-name', n), name);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`pageerror: ${String(error)}`));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  await page.goto(`${baseUrl}/`, WAIT);
  const demo: DemoPage = {
    page,
    context,
    errors,
    state: () => page.evaluate(() => window.__demo?.client.state),
    async waitForState(state) {
      await page.waitForFunction((s) => window.__demo?.client.state === s, state, WAIT);
    },
    async send(text) {
      await page.fill('#composer-text', text);
      await page.press('#composer-text', 'Enter');
    },
    messages: (text) => page.locator('#messages .msg', { has: page.locator('.msg-text', { hasText: text }) }),
    async holdTokens() {
      let release = (): void => undefined;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const held: Promise<void>[] = [];
      const handler = (route: Route): Promise<void> => {
        const done = gate.then(() => route.continue());
        held.push(done);
        return done;
      };
      const tokens = (url: URL): boolean => url.pathname === '/demo/token';
      await page.route(tokens, handler);
      return async () => {
        release();
        // Every held request goes on before the route is removed (removing it first would answer them twice).
        await Promise.all(held);
        await page.unroute(tokens, handler);
      };
    },
    timelineEntry: (kind, text) => page.locator(`#timeline .event[data-kind="${kind}"]`, text === undefined ? {} : { hasText: text }),
  };
  await demo.waitForState('ready');
  return demo;
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(screenshotDir, { recursive: true });
  const path = new URL(`${name}.png`, screenshotDir).pathname;
  await page.screenshot({ path, fullPage: true });
  return path;
}
