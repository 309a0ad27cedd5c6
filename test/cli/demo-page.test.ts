// The pages of the built `lifeline serve --demo`, end to end: served with a CSP and nothing
// inline, every asset they name answers, the admin link the server logs opens the dashboard
// with no key typed, and the demo page reaches `ready` and shows a server restart (1012) with
// its retry hint. The pages' behaviour in depth is in test/browser/demo.test.ts and admin.test.ts.
// Without Chromium the browser tests skip and say why; on CI (CI=true) a missing browser fails them.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { browserSkip, launchBrowser, type LaunchedBrowser } from '../helpers/browser.js';
import { startServe, stopAll, type RunningServer } from './harness.js';
import { within } from '../helpers/wait.js';

const WAIT = { timeout: 10_000 };

let server: RunningServer;
let launched: LaunchedBrowser | undefined;

before(async () => {
  server = await startServe(['--demo', '--port', '0']);
});
after(async () => {
  await launched?.close();
  await stopAll();
});

async function page(): Promise<{ page: Page; errors: string[] }> {
  launched ??= await launchBrowser();
  const context = await launched.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const created = await context.newPage();
  const errors: string[] = [];
  created.on('pageerror', (error) => errors.push(String(error)));
  created.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  return { page: created, errors };
}

/** The admin address the server logs in demo mode (a pino JSON line), found by its shape, not its field name. */
function loggedAdminUrl(stderr: string): string | undefined {
  for (const line of stderr.split('\n')) {
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    for (const value of Object.values(entry as Record<string, unknown>)) {
      if (typeof value === 'string' && /^http:\/\/\S+\/admin[#?]key=\S+$/.test(value)) return value;
    }
  }
  return undefined;
}

for (const path of ['/', '/admin']) {
  test(`${path} is served with a CSP, no inline script or style, and every asset it names answers`, async () => {
    const response = await fetch(`${server.url}${path}`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(response.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    assert.doesNotMatch(response.headers.get('content-security-policy') ?? '', /unsafe-inline/);
    assert.equal(response.headers.get('cache-control'), 'no-store');
    const html = await response.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, 'no inline script');
    assert.doesNotMatch(html, /<style[\s>]/i, 'no style element');
    assert.doesNotMatch(html, /\sstyle=/i, 'no style attribute');
    assert.doesNotMatch(html, /\son[a-z]+=/i, 'no inline event handler');
    const assets = [...html.matchAll(/\s(?:src|href)="(\/[^"#]*)"/g)].map((match) => match[1] ?? '');
    assert.ok(assets.length >= 3, `the page names its script, stylesheet and icon: ${assets.join(', ')}`);
    for (const asset of assets) {
      const got = await fetch(`${server.url}${asset}`);
      assert.equal(got.status, 200, asset);
      await got.arrayBuffer();
    }
  });
}

test('the admin link the server logs opens the dashboard without typing the key', { skip: browserSkip }, async () => {
  await server.stderrIncludes('/admin');
  const url = loggedAdminUrl(server.stderr());
  assert.ok(url !== undefined && url.startsWith(`${server.url}/admin`), `an admin link in the log:\n${server.stderr()}`);
  const { page: admin, errors } = await page();
  await admin.goto(url, WAIT);
  await admin.waitForSelector('#dashboard:not([hidden])', WAIT);
  assert.equal(await admin.textContent('#admin-status-text'), 'live');
  assert.doesNotMatch(admin.url(), /key=/, 'the key left the address bar');
  assert.deepEqual(errors, []);
  await admin.context().close();
});

test('the demo page gets ready, then shows a server restart (SIGTERM) as 1012 with its retry hint', { skip: browserSkip }, async () => {
  const { page: demo, errors } = await page();
  await demo.goto(server.url, WAIT);
  await demo.waitForFunction(() => window.__demo?.client.state === 'ready', undefined, WAIT);
  await demo.waitForSelector('.node.is-current[data-state="ready"]', WAIT);
  assert.equal(await demo.textContent('#status-text'), 'ready');
  const closed = demo.waitForSelector('#timeline .event[data-kind="close"]:has-text("1012")', WAIT);
  server.child.kill('SIGTERM');
  const text = (await (await closed).textContent()) ?? '';
  assert.match(text, /1012 service restart/);
  assert.match(text, /retry after \d+ ms/);
  await demo.waitForSelector('#timeline .event[data-kind="reconnecting"]:has-text("the server asked")', WAIT);
  assert.deepEqual(await within(server.exited, 15_000, 'server exit'), { code: 0, signal: null });
  // Chromium logs the refused reconnects to the stopped server; nothing else may appear.
  assert.deepEqual(
    errors.filter((e) => !/WebSocket connection to .* failed|Failed to load resource/.test(e)),
    [],
  );
  await demo.context().close();
});
