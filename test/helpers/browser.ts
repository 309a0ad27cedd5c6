/**
 * Real-browser tests: Debian's Chromium driven by playwright-core (never a downloaded browser).
 *
 * Skip rule: without Chromium the browser tests skip and say why, except on CI
 * (`CI=true`), where a missing browser fails them: {@link launchBrowser} throws.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type CDPSession, type Page } from 'playwright-core';
import { freePort } from './free-port.js';

/** The Chromium binary (`LIFELINE_CHROMIUM` overrides, as in scripts/test-env.mjs). */
export const chromiumPath = process.env.LIFELINE_CHROMIUM ?? '/usr/bin/chromium';

const installed = existsSync(chromiumPath);
const onCi = process.env.CI === 'true';

/**
 * `skip` option for browser tests: a reason when Chromium is missing, `false` when the tests
 * must run (Chromium present, or CI, where {@link launchBrowser} then fails loudly).
 */
export const browserSkip: string | false =
  installed || onCi ? false : chromiumPath === '/usr/bin/chromium' ? 'chromium not installed: apt-get install -y chromium' : `chromium not found at ${chromiumPath} (apt-get install -y chromium, or fix LIFELINE_CHROMIUM)`;

const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** A page whose visibility is really changed by the browser (its window is minimized and restored). */
export interface HideablePage {
  readonly page: Page;
  /** Minimizes (true) or restores (false) the page's window; resolves once `document.visibilityState` follows. */
  setHidden(hidden: boolean): Promise<void>;
  close(): Promise<void>;
}

export interface LaunchedBrowser {
  readonly browser: Browser;
  /**
   * A page that can really be hidden. Playwright's own pages cannot: it turns on CDP focus
   * emulation for every page of its contexts, which keeps the page "captured" and so visible
   * whatever happens to its window (minimizing it, or bringing another tab to the front, leaves
   * `document.visibilityState` at 'visible'). Pages of the browser's default context, reached
   * through a second CDP connection with `noDefaults`, get no focus emulation, and headless
   * Chromium then hides them for real when their window is minimized: `visibilitychange` fires
   * from the browser itself, as in a user's browser.
   */
  openHideablePage(): Promise<HideablePage>;
  close(): Promise<void>;
}

/** Launches Debian's Chromium headless; throws with the reason when it is missing (the CI case). */
export async function launchBrowser(): Promise<LaunchedBrowser> {
  if (!existsSync(chromiumPath)) {
    throw new Error(
      `${onCi ? 'CI=true: the browser tests must run, but ' : ''}no Chromium at ${chromiumPath}. ` +
        'Install it with: apt-get install -y chromium (or set LIFELINE_CHROMIUM).',
    );
  }
  // A DevTools port (loopback only) lets the second, noDefaults connection reach the browser.
  const debugPort = await freePort();
  const browser = await chromium.launch({ executablePath: chromiumPath, args: [...chromiumArgs, `--remote-debugging-port=${debugPort}`] });
  let plain: Promise<Browser> | undefined;
  const defaultContext = async (): Promise<BrowserContext> => {
    plain ??= chromium.connectOverCDP(`http://127.0.0.1:${debugPort}`, { noDefaults: true, isLocal: true });
    const context = (await plain).contexts()[0];
    if (!context) throw new Error('the browser has no default context');
    return context;
  };
  return {
    browser,
    async openHideablePage() {
      const context = await defaultContext();
      const page = await context.newPage();
      const cdp: CDPSession = await context.newCDPSession(page);
      const { windowId } = await cdp.send('Browser.getWindowForTarget');
      return {
        page,
        async setHidden(hidden) {
          await cdp.send('Browser.setWindowBounds', { windowId, bounds: { windowState: hidden ? 'minimized' : 'normal' } });
          const want = hidden ? 'hidden' : 'visible';
          try {
            await page.waitForFunction((state) => document.visibilityState === state, want, { polling: 20, timeout: 5000 });
          } catch (error) {
            throw new Error(`the page did not become ${want} after its window was ${hidden ? 'minimized' : 'restored'}`, { cause: error });
          }
        },
        async close() {
          await cdp.detach().catch(() => undefined);
          await page.close();
        },
      };
    },
    async close() {
      if (plain) await (await plain).close().catch(() => undefined);
      await browser.close();
    },
  };
}
