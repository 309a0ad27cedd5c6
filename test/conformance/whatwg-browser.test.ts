/**
 * WHATWG conformance in Chromium: the cases of cases.ts run in a page against the browser's own
 * WebSocket and against ReconnectingWebSocket driving it. Results must be equal, except the
 * documented deviations (by name), and where Chromium strays from the standard (then
 * ReconnectingWebSocket must give the standard's result).
 */
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { browserSkip, launchBrowser, type LaunchedBrowser } from '../helpers/browser.js';
import { cases } from './cases.js';
import { assertCase } from './compare.js';
import type { CaseResults } from './run-cases.js';
import { startCaseServer, type CaseServer } from './server.js';

const entry = fileURLToPath(new URL('./browser-entry.ts', import.meta.url));
const opts = { skip: browserSkip };

/** What the standard says where Chromium says otherwise. */
const standard: Record<string, unknown> = {
  // WHATWG (WebIDL: an optional argument given as undefined is missing): 1000 with the reason.
  // Chromium reads the undefined code as 0 and throws InvalidAccessError.
  'client close with a reason and no code': { type: 'close', code: 1000, reason: 'client done', wasClean: true, isCloseEvent: true },
};

describe('WHATWG conformance in Chromium: ReconnectingWebSocket against the browser WebSocket', opts, () => {
  let server: CaseServer | undefined;
  let launched: LaunchedBrowser | undefined;
  let results: CaseResults;
  before(async () => {
    const bundle = await build({ entryPoints: [entry], bundle: true, platform: 'browser', format: 'iife', target: 'es2022', write: false, logLevel: 'silent' });
    const code = bundle.outputFiles[0]?.text ?? '';
    server = await startCaseServer();
    launched = await launchBrowser();
    const page = await launched.browser.newPage();
    await page.addScriptTag({ content: code });
    results = await page.evaluate((base) => (window as unknown as { runConformance(base: string): Promise<CaseResults> }).runConformance(base), server.url);
  });
  after(async () => {
    await launched?.close();
    await server?.close();
  });

  for (const { name } of cases) {
    test(name, () => assertCase(name, results, standard));
  }
});
