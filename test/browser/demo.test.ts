/**
 * The demo page (`/` of `lifeline serve --demo`) in real Chromium: two people chat on
 * `chat:lobby`, and each way the page can break its link (server drop, token expiry, simulated
 * offline, clean close) ends with the session resumed and the messages missed meanwhile shown
 * once each, marked recovered. Screenshots go to test-results/screenshots/.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { browserSkip, launchBrowser, type LaunchedBrowser } from '../helpers/browser.js';
import { openDemo, screenshot, screenshotDir, WAIT, type DemoPage } from './demo-page.js';
import { startDemoServer, type DemoServer } from './demo-server.js';

const opts = { skip: browserSkip, timeout: 45_000 };

/** WCAG contrast ratio of two computed `rgb(...)` colours (opaque). */
function contrast(a: string, b: string): number {
  const luminance = (css: string): number => {
    const [r = 0, g = 0, bl = 0] = (css.match(/[\d.]+/g) ?? []).map(Number);
    const lin = (c: number): number => (c / 255 <= 0.03928 ? c / 255 / 12.92 : ((c / 255 + 0.055) / 1.055) ** 2.4);
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(bl);
  };
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

describe('demo page', { skip: browserSkip }, () => {
  let server: DemoServer;
  let launched: LaunchedBrowser;
  let ada: DemoPage;
  let bob: DemoPage;

  before(async () => {
    // One after the other, so a failing start still leaves `after` the browser to close.
    launched = await launchBrowser();
    server = await startDemoServer();
    ada = await openDemo(launched.browser, server.url, 'ada');
    bob = await openDemo(launched.browser, server.url, 'bob');
  });
  after(async () => {
    await launched?.close();
    await server?.close();
  });

  /** Every line showing `text` on both pages, once. */
  async function onceOnBoth(text: string): Promise<void> {
    await ada.messages(text).first().waitFor(WAIT);
    await bob.messages(text).first().waitFor(WAIT);
    assert.equal(await ada.messages(text).count(), 1, `ada shows "${text}" once`);
    assert.equal(await bob.messages(text).count(), 1, `bob shows "${text}" once`);
  }

  test('connects as the stored name: ready, joined the room, both people present', opts, async () => {
    assert.equal(await ada.page.textContent('#status-text'), 'ready');
    await ada.page.waitForSelector('.node.is-current[data-state="ready"]', WAIT);
    assert.equal(await ada.page.inputValue('#identity-name'), 'ada');
    await ada.timelineEntry('subscribed', 'joined chat:lobby').waitFor(WAIT);
    await ada.page.waitForSelector('#presence li[data-user="bob"]', WAIT);
    await bob.page.waitForSelector('#presence li[data-user="ada"]', WAIT);
    assert.match((await bob.page.textContent('#presence li.is-self')) ?? '', /bob \(you\)/);
    assert.match((await ada.page.textContent('#fact-token')) ?? '', /^in \d/);
  });

  test('a message sent in one page appears once in the other, with its offset', opts, async () => {
    await ada.send('hello from ada');
    await onceOnBoth('hello from ada');
    const line = bob.messages('hello from ada');
    assert.match((await line.textContent()) ?? '', /ada/);
    assert.match((await line.getAttribute('data-offset')) ?? '', /^\d+$/);
    assert.equal(await line.evaluate((el) => el.classList.contains('is-recovered')), false);
    assert.equal(await ada.page.locator('#outbox .pending').count(), 0, 'nothing left pending once the event is in');
    await bob.send('hi ada, bob here');
    await onceOnBoth('hi ada, bob here');
  });

  test('a reload shows the recent messages once (rewind), marked as earlier, then live ones; none twice', opts, async () => {
    await ada.page.reload(WAIT);
    await ada.waitForState('ready');
    for (const text of ['hello from ada', 'hi ada, bob here']) {
      await ada.messages(text).first().waitFor(WAIT);
      assert.equal(await ada.messages(text).count(), 1, `"${text}" once after the reload`);
      assert.equal(await ada.messages(text).evaluate((el) => el.classList.contains('is-earlier') && !el.classList.contains('is-recovered')), true);
    }
    assert.equal(await ada.page.locator('#messages-empty').count(), 0, 'no "No messages yet" over recent messages');
    await ada.timelineEntry('subscribed', 'showed the last').waitFor(WAIT);
    await bob.send('after ada reloaded');
    await ada.messages('after ada reloaded').waitFor(WAIT);
    assert.equal(await ada.messages('after ada reloaded').evaluate((el) => el.classList.contains('is-earlier')), false, 'a live one');
    const offsets = await ada.page.locator('#messages .msg').evaluateAll((els) => els.map((el) => el.getAttribute('data-offset')));
    assert.equal(new Set(offsets).size, offsets.length, `every offset once: ${offsets.join(',')}`);
    await screenshot(ada.page, 'demo-after-reload');
  });

  test('two tabs of one browser are two guests: each its own name, neither message reads "(you)" in the other', opts, async () => {
    const context = await launched.browser.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const [one, two] = [await context.newPage(), await context.newPage()];
      for (const tab of [one, two]) {
        await tab.goto(`${server.url}/`, WAIT);
        await tab.waitForFunction(() => window.__demo?.client.state === 'ready', undefined, WAIT);
      }
      const names = await Promise.all([one, two].map((tab) => tab.evaluate(() => window.__demo?.user)));
      assert.notEqual(names[0], names[1], `two guests: ${names.join(' / ')}`);
      await one.fill('#composer-text', 'from tab one');
      await one.press('#composer-text', 'Enter');
      const line = two.locator('#messages .msg', { has: two.locator('.msg-text', { hasText: 'from tab one' }) });
      await line.waitFor(WAIT);
      assert.doesNotMatch((await line.textContent()) ?? '', /\(you\)/);
      await two.reload(WAIT);
      await two.waitForFunction(() => window.__demo?.client.state === 'ready', undefined, WAIT);
      assert.equal(await two.evaluate(() => window.__demo?.user), names[1], 'a reload keeps the tab\'s name');
    } finally {
      await context.close();
    }
  });

  test('two visitors who chose one name are two people: two chips, and only your own messages read "(you)"', opts, async () => {
    const [one, two] = [await openDemo(launched.browser, server.url, 'sam'), await openDemo(launched.browser, server.url, 'sam')];
    try {
      for (const { page } of [one, two]) {
        await page.waitForFunction(() => document.querySelectorAll('#presence li[data-user="sam"]').length === 2, undefined, WAIT);
        assert.equal(await page.locator('#presence li.is-self').count(), 1, 'one of the two sams is this page');
        assert.equal(await page.locator('#presence li[data-user="sam"] .tabs').count(), 0, 'neither chip says ×2');
      }
      await two.send('from the other sam');
      await two.messages('from the other sam').waitFor(WAIT);
      const line = one.messages('from the other sam');
      await line.waitFor(WAIT);
      assert.doesNotMatch((await line.textContent()) ?? '', /\(you\)/, 'another visitor named sam is not "you"');
      assert.match((await two.messages('from the other sam').textContent()) ?? '', /sam \(you\)/);
      await one.page.reload(WAIT);
      await one.waitForState('ready');
      await one.messages('from the other sam').waitFor(WAIT);
      assert.doesNotMatch((await one.messages('from the other sam').textContent()) ?? '', /\(you\)/, 'nor after a reload (rewind)');
    } finally {
      await Promise.all([one.context.close(), two.context.close()]);
    }
  });

  test('a dropped link: 1006, reconnecting, then what was missed appears once each, marked recovered', opts, async () => {
    const release = await bob.holdTokens(); // bob cannot reconnect until ada has talked
    await bob.page.click('#btn-drop');
    const close = bob.timelineEntry('close', '1006');
    await close.waitFor(WAIT);
    assert.match((await close.textContent()) ?? '', /1006 abnormal closure.*wasClean: false.*willReconnect: true/s);
    await bob.timelineEntry('reconnecting').last().waitFor(WAIT);
    const missed = ['while bob was away 1', 'while bob was away 2', 'while bob was away 3'];
    for (const text of missed) await ada.send(text);
    for (const text of missed) await ada.messages(text).waitFor(WAIT);
    assert.notEqual(await bob.state(), 'ready');
    assert.equal(await bob.messages('while bob was away').count(), 0, 'nothing reached bob while his link was down');
    await release();
    await bob.waitForState('ready');
    await bob.timelineEntry('recovered', 'recovered 3 events').waitFor(WAIT);
    for (const text of missed) {
      assert.equal(await bob.messages(text).count(), 1, `"${text}" once`);
      assert.equal(await bob.messages(text).locator('.badge-recovered').count(), 1, `"${text}" marked recovered`);
    }
    const offsets = await bob.page.$$eval('#messages .msg', (lines) => lines.map((li) => Number(li.getAttribute('data-offset'))));
    assert.deepEqual(offsets, [...offsets].sort((a, b) => a - b), 'in offset order');
    assert.equal(new Set(offsets).size, offsets.length, 'no offset twice');
    assert.deepEqual(await bob.page.evaluate(() => window.__demo?.stats().lastRecovery), { events: 3, recovered: true });
    await bob.timelineEntry('ready', 'resumed').last().waitFor(WAIT);
    // The drop request's reply was lost with the link: it was resent and answered from the stored reply.
    await bob.timelineEntry('request', 'demo.drop answered after the resume').waitFor(WAIT);
    await bob.send('back, and I saw all three');
    await onceOnBoth('back, and I saw all three');
    assert.match((await bob.page.textContent('#fact-close')) ?? '', /1006/);
    // A few heartbeat round trips on the sparkline before the picture (a ping every 2 s).
    await bob.page.waitForFunction(() => Number(document.getElementById('sparkline')?.dataset.samples) >= 3, undefined, WAIT);
    assert.match((await bob.page.textContent('#fact-rtt')) ?? '', /\d+ ms/);
    await screenshot(bob.page, 'demo-recovered');
  });

  test('an expired token: the server closes with 4000, the page fetches a fresh one and resumes', opts, async () => {
    await bob.page.click('#btn-expire');
    await bob.timelineEntry('token', 'short-lived token').waitFor(WAIT);
    await bob.page.waitForFunction(() => /not refreshed/.test(document.getElementById('fact-token')?.textContent ?? ''), undefined, WAIT);
    const close = bob.timelineEntry('close', '4000');
    await close.waitFor(WAIT);
    assert.match((await close.textContent()) ?? '', /4000 auth expired/);
    await bob.timelineEntry('token', 'credentials expired').waitFor(WAIT);
    await bob.timelineEntry('token', 'fresh token fetched').waitFor(WAIT);
    await bob.waitForState('ready');
    await bob.timelineEntry('ready', 'resumed').last().waitFor(WAIT);
    assert.match((await bob.page.textContent('#fact-close')) ?? '', /4000 auth expired/);
    assert.match((await bob.page.textContent('#fact-token')) ?? '', /^in \d/);
    await ada.send('after the token expired');
    await onceOnBoth('after the token expired');
  });

  test('offline: the heartbeat finds the silent link, the client waits, and a queued message goes once', opts, async () => {
    await bob.page.click('#btn-offline');
    assert.equal(await bob.page.getAttribute('#btn-offline', 'aria-pressed'), 'true');
    await bob.send('typed while offline');
    await bob.page.waitForSelector('#outbox .pending.is-offline', WAIT);
    assert.match((await bob.page.textContent('#outbox .pending.is-offline .pending-state')) ?? '', /^waiting for the network/, 'not "sending…" while offline');
    await ada.send('sent while bob was offline');
    await bob.waitForState('paused');
    await bob.page.waitForSelector('.node.is-current[data-state="paused"]', WAIT);
    assert.ok(Number(await bob.page.getAttribute('#sparkline', 'data-lost')) >= 1, 'the sparkline marks the lost pings');
    assert.equal(await bob.messages('sent while bob was offline').count(), 0);
    assert.equal(await ada.messages('typed while offline').count(), 0, 'nothing left bob while offline');
    await bob.page.click('#btn-offline');
    await bob.waitForState('ready');
    await onceOnBoth('sent while bob was offline');
    await onceOnBoth('typed while offline');
    assert.equal(await bob.messages('sent while bob was offline').locator('.badge-recovered').count(), 1);
    assert.equal(await bob.page.locator('#outbox .pending').count(), 0);
    await screenshot(bob.page, 'demo-offline-recovered');
  });

  test('Close is a clean 1000 with no retry; Reconnect resumes and recovers', opts, async () => {
    await bob.page.click('#btn-close');
    await bob.waitForState('closed');
    const close = bob.timelineEntry('close', '1000');
    await close.waitFor(WAIT);
    assert.match((await close.textContent()) ?? '', /1000 normal closure.*willReconnect: false/s);
    assert.equal(await bob.page.textContent('#btn-close'), 'Reconnect');
    assert.equal(await bob.page.isDisabled('#btn-drop'), true);
    assert.match((await bob.page.textContent('#hint-close')) ?? '', /^Closed with 1000: out of the room.*Reconnect resumes/, 'the hint tells what Reconnect does');
    assert.equal(await bob.page.textContent('#presence-number'), '–', 'closed: nobody is known to be here');
    assert.equal(await bob.page.locator('#presence li').count(), 0);
    await ada.send('while bob had closed');
    await ada.messages('while bob had closed').waitFor(WAIT);
    await bob.page.click('#btn-close');
    await bob.waitForState('ready');
    await onceOnBoth('while bob had closed');
    assert.match((await bob.page.textContent('#hint-close')) ?? '', /^A clean 1000 close/);
    await bob.page.waitForSelector('#presence li[data-user="ada"]', WAIT);
    assert.equal(await bob.messages('while bob had closed').locator('.badge-recovered').count(), 1);
  });

  test('Close while offline: the close nobody answers ends in closed (1006), and Reconnect works once back online; renamed while offline, who is here is unknown', opts, async () => {
    const dora = await openDemo(launched.browser, server.url, 'dora');
    try {
      const { page } = dora;
      await page.click('#btn-offline');
      await page.click('#btn-close');
      await dora.waitForState('closed');
      const close = dora.timelineEntry('close', '1006');
      await close.waitFor(WAIT);
      assert.match((await close.textContent()) ?? '', /wasClean: false.*willReconnect: false/s);
      assert.equal(await page.textContent('#btn-close'), 'Reconnect');
      assert.equal(await page.isDisabled('#btn-close'), false, 'Reconnect can be pressed');
      await page.click('#btn-offline');
      await page.click('#btn-close');
      await dora.waitForState('ready');
      // Renamed while offline: the new session is not in the room, so who is here is unknown.
      await page.click('#btn-offline');
      await page.fill('#identity-name', 'dorothy');
      await page.press('#identity-name', 'Enter');
      await dora.waitForState('paused');
      await page.waitForFunction(() => window.__demo?.user === 'dorothy', undefined, WAIT);
      assert.equal(await page.textContent('#presence-number'), '–', 'not "0 here", nor the old room');
      assert.equal(await page.locator('#presence li').count(), 0);
      assert.equal(await page.locator('#presence-count.is-live').count(), 0);
      await page.click('#btn-offline');
      await dora.waitForState('ready');
      await page.waitForSelector('#presence li.is-self[data-user="dorothy"]', WAIT);
    } finally {
      await dora.context.close();
    }
  });

  test('Close during the wait for a retry: the countdown stops and says how long it waited', opts, async () => {
    const eve = await openDemo(launched.browser, server.url, 'eve');
    try {
      const { page } = eve;
      // Close pressed the moment the client starts waiting for its next attempt.
      await page.evaluate(() => window.__demo?.client.addEventListener('reconnecting', () => queueMicrotask(() => document.getElementById('btn-close')?.click()), { once: true }));
      await page.click('#btn-drop');
      await eve.waitForState('closed');
      const line = page.locator('#timeline .event[data-kind="reconnecting"] .countdown').last();
      await line.waitFor(WAIT);
      assert.match((await line.evaluate((el) => el.parentElement?.textContent)) ?? '', /^waited /, 'no "next attempt in" once closed');
    } finally {
      await eve.context.close();
    }
  });

  test('renaming starts a new session under the new name, and the room sees it', opts, async () => {
    await bob.page.fill('#identity-name', 'robert');
    await bob.page.press('#identity-name', 'Enter');
    await bob.timelineEntry('ready', 'new session').last().waitFor(WAIT);
    await bob.waitForState('ready');
    await ada.page.waitForSelector('#presence li[data-user="robert"]', WAIT);
    await ada.page.waitForSelector('#presence li[data-user="bob"]', { ...WAIT, state: 'detached' });
    assert.equal(await bob.page.evaluate(() => sessionStorage.getItem('lifeline-demo-name')), 'robert');
    await bob.send('robert now');
    await onceOnBoth('robert now');
    assert.match((await ada.messages('robert now').textContent()) ?? '', /robert/);
  });

  test('at 1280x800 the message box is in view; offline: the pressed button stays readable when hovered, the outbox waits for the network', opts, async () => {
    const carol = await openDemo(launched.browser, server.url, 'carol', { width: 1280, height: 800 });
    try {
      const { page } = carol;
      const box = await page.locator('#composer-text').boundingBox();
      assert.ok(box && box.y >= 0 && box.y + box.height <= 800, `the message box is above the fold: ${JSON.stringify(box)}`);
      await screenshot(page, 'demo-1280x800');
      await page.click('#btn-offline');
      assert.equal(await page.getAttribute('#btn-offline', 'aria-pressed'), 'true');
      await page.hover('#btn-offline');
      // The button's colours change through a 0.15 s transition: read them once it has ended
      // (on a busy machine the read could otherwise land mid-way).
      await page.waitForFunction(() => (document.getElementById('btn-offline') as HTMLElement).getAnimations().length === 0, undefined, WAIT);
      const colours = await page.evaluate(() => {
        const style = getComputedStyle(document.getElementById('btn-offline') as HTMLElement);
        return { fg: style.color, bg: style.backgroundColor };
      });
      const ratio = contrast(colours.fg, colours.bg);
      assert.ok(ratio >= 4.5, `pressed and hovered: ${colours.fg} on ${colours.bg} has contrast ${ratio.toFixed(2)} (WCAG AA wants 4.5)`);
      await page.locator('#btn-offline').screenshot({ path: new URL('demo-offline-pressed-hover.png', screenshotDir).pathname });
      await carol.send('sent while offline');
      const pending = page.locator('#outbox .pending', { hasText: 'sent while offline' });
      await pending.waitFor(WAIT);
      assert.match((await pending.locator('.pending-state').textContent()) ?? '', /^waiting for the network/);
      await page.click('#btn-offline');
      await carol.waitForState('ready');
      await carol.messages('sent while offline').waitFor(WAIT);
      assert.equal(await carol.messages('sent while offline').count(), 1);
    } finally {
      await carol.context.close();
    }
  });

  test('on a phone, in dark mode: one column, nothing wider than the screen', opts, async () => {
    const phone = await launched.browser.newContext({ viewport: { width: 390, height: 844 }, colorScheme: 'dark', deviceScaleFactor: 2 });
    try {
      const page = await phone.newPage();
      await page.goto(`${server.url}/`, WAIT);
      await page.waitForFunction(() => window.__demo?.client.state === 'ready', undefined, WAIT);
      await page.locator('#messages .msg').first().waitFor({ state: 'attached', ...WAIT }).catch(() => undefined);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.equal(overflow, 0, 'no sideways scrolling of the page');
      const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      assert.notEqual(background, 'rgb(244, 246, 249)', 'the dark palette is in force');
      const diagram = await page.evaluate(() => {
        const wrap = document.querySelector('.diagram-wrap') as HTMLElement;
        const cue = document.getElementById('diagram-cue') as HTMLElement;
        return { scrolls: wrap.scrollWidth > wrap.clientWidth, cue: getComputedStyle(cue).display !== 'none' && cue.getBoundingClientRect().height > 0 };
      });
      assert.ok(!diagram.scrolls || diagram.cue, 'the whole diagram shows, or a cue says it scrolls sideways');
      await screenshot(page, 'demo-phone-dark');
    } finally {
      await phone.close();
    }
  });

  test('no page errors and no console errors (the CSP blocks nothing)', opts, async () => {
    // Chromium logs a refused WebSocket handshake as a console error on its own; nothing else is expected.
    const unexpected = [...ada.errors, ...bob.errors].filter((e) => !/WebSocket connection to .* failed/.test(e));
    assert.deepEqual(unexpected, []);
  });
});
