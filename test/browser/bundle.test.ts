/**
 * The browser build of `lifeline/client`: it bundles for platform 'browser' with no Node-only
 * code, and its size (minified + gzipped, esbuild + zlib) is measured and reported.
 * No browser needed: this runs even where Chromium is missing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bundleClient, clientEntry, minifiedBundle, minifiedGzipSize, nodeClientEntry, nodeRequires, type Bundle } from './build.js';

/** What makes a bundle unfit for a browser: Node modules it requires, and any file from outside src/client, src/core and src/protocol. */
function nodeOnlyParts(bundle: Bundle): string[] {
  const foreign = bundle.inputs.filter((input) => !/^src\/(client|core|protocol)\/[\w-]+\.ts$/.test(input) || /^src\/client\/node(-websocket)?\.ts$/.test(input));
  return [...nodeRequires(bundle.code).map((name) => `require("${name}")`), ...foreign];
}

test('the client entry bundles for the browser with no Node-only code', async () => {
  // Bundling itself is the check: with platform 'browser', a node builtin on the client path
  // does not resolve and the build throws. What can still slip through is listed by nodeOnlyParts.
  const bundle = await bundleClient();
  assert.deepEqual(nodeOnlyParts(bundle), []);
  assert.match(bundle.code, /var Lifeline\s*=/, 'the bundle exposes the Lifeline global');
});

test('the same check flags the Node entry (which pulls in ws)', async () => {
  // A control: ws has a "browser" stub, so the Node entry still builds; the inputs give it away.
  const parts = nodeOnlyParts(await bundleClient(nodeClientEntry));
  assert.ok(parts.some((part) => part.startsWith('node_modules/ws/')), `expected ws among ${JSON.stringify(parts)}`);
});

/**
 * Size budgets, min+gz (esbuild, browser, ESM), checked on every run. The goals are 2,500 B and
 * 7,500 B, not met yet; these budgets are what the code reaches today (see
 * docs/topics/design-decisions.md, entries 29, 44 and 45, and `node scripts/bundle-sizes.mjs`
 * for where the bytes are), so any growth fails here.
 */
// 9,333: +3 B for logout() forgetting the session and emptying the store before it waits for the
// server, and a close() meanwhile keeping it empty (the emptying save was asked after the store's lock
// could be let go).
// 9,330, 4,498: -1 B, +1 B for reconnect() right after a close() while connecting reporting
// 1006 (it reported the close()'s 1000, though no close frame went out).
// 9,331: +9 B for logout() on a client closed already leaving its outbox store alone (it saved
// it empty after close() had let go of it, over what the path's next client had stored).
// 9,322, 4,497: the two changes below, measured together after they met.
// 9,293: +86 B for logout() (`end` sent, the server's close awaited at most connectTimeout, the
// session id and secret forgotten, a durable outbox emptied): a logout left the session resumable.
// 9,238, 4,497: +31 B, +35 B for the closing paths as WHATWG: readyState reads the socket's
// while connecting or open, so CLOSING once the server's close frame came (+15 B, +13 B: it read
// OPEN until the close event); CLOSED in the error event of a close() while connecting (+3 B,
// +2 B: it read CLOSING); bufferedAmount counting what was sent once closing or closed, until
// reconnect() (+13 B, +20 B: it never grew, and dropped what a closing queue held).
// 9,207, 4,462: +32 B, +37 B for close() waiting at most closeTimeout (5 s) for the server's close
// frame, then ending the socket and reporting 1006 "close timeout" (on Node ws waited 30 s).
// 9,175: +1 B of gzip with the same minified length (24,672 B), after the on* handlers' types
// changed so a client is assignable to the DOM's WebSocket (no code of its own).
// 9,174, 4,425: +111 B, +175 B, four changes measured together. opened() and ready() taking a
// signal, and calls without one sharing a promise (+80 B, +144 B: an app polling through an
// outage held a waiter per call until the next open); a protocols provider that throws retried as
// a URL provider's failure is (+13 B, +17 B: it ended the client); close() on a socket the
// server is closing reporting the server's close (+3 B each: it reported 1000, wasClean); a
// delay the app's reconnectDelay chose no longer held as a server hint (+15 B, +11 B).
// 9,063, 4,250: -1 B each for onerror called with no event (an implementation may) giving no cause
// instead of a TypeError.
// 9,064: +6 B for a publish made with a durable outbox taking only itself to the wire (it took
// along every entry waiting out an `unavailable` delay: during an outage they went out at the
// app's publish rate instead of with backoff).
// 9,058, 4,251: +5 B, +6 B for the socket a close() was waiting on let go of when reconnect() cuts
// it short (on Node it held the process up to 30 s on a dead link, after dispose() too).
// 9,053, 4,245: the three changes below together, measured after they met.
// 9,037, 4,232: +10 B, +11 B for a socket error's cause (ws's own error: a refused certificate,
// ECONNREFUSED; Node users saw only "WebSocket error").
// 9,027: +98 B for an AbortSignal on publish(), request() and presence() (the brief asks for
// one where it fits; an abort takes the message out of the outbox and the store).
// 8,946, 4,235: +17 B, +14 B for queue and retry settings given as undefined keeping their
// defaults, as every other option does (one threw InvalidOptionError; retry.jitter undefined
// silently meant no jitter).
// 8,929: +6 B for a rewind's held events dropped when the link ends or a new subscribe goes out,
// and only the unbroken run ending at the head delivered (a rewind cut by a drop was delivered
// before the newest events with a silent gap, as recovered: true).
// 8,923, 4,221: +3 B each for reconnect(code, reason)'s reason as a string too (null reached ws,
// which threw with the old socket let go and nothing scheduled).
// 8,920, 4,218: +13 B each for close() as WHATWG: a reason given without a code closes with
// 1000 (it was dropped, the server saw 1005), and the reason is a string (null went to the
// socket as null: ws threw, after the client had begun to close).
// 8,907: +15 B for the transport's options and URL checked before the opt-in modules start (a
// bad URL, connectTimeout 0 or no WebSocket threw only after a durable store's load had begun).
// 8,892: +9 B for heartbeat settings given as undefined keeping their defaults (withHeartbeat
// threw for { watchdog: undefined }, where every client option keeps its default).
// 4,205: -1 B for anything a link watch hands dead() other than 'connect-timeout' counting as a
// heartbeat timeout (an error from promise.catch(dead) was taken as a connect timeout, rewinding
// the attempt count); 8,883 unchanged.
// 8,883: +11 B for a link the heartbeat finds dead before the welcome counting as a connect
// timeout (as a heartbeat timeout the stability window's reset stood: with connectTimeout above
// the watchdog, a server that never welcomed was retried at the first step for ever).
// 8,872, 4,206: +10 B, +17 B for a link dropped as never connected (no welcome in time) going
// back to its attempt count (the stability window that ran while it waited reset the backoff, so
// a server that never welcomed was retried every 11 s for ever).
// 8,862, 4,189: +52 B, +3 B for a deadline on the server's welcome (a server that accepted the
// socket and never answered left the client open and not ready until the heartbeat gave up).
// 8,810, 4,186: +6 B, +10 B for reconnecting reported when a retry is scheduled, not while paused
// (a close while hidden or offline announced one that never came).
// 8,804: +10 B for presence queries failed when the transport ends for good with a durable outbox
// (not stored, they were kept pending with its entries).
// 8,794: +6 B for the opt-in modules attached before the transport exists (a bare provider or
// store threw after it, leaving it connecting with no owner).
// 8,788: +16 B for the heartbeat's settings checked (a negative one was taken: maxMissed -1 ended
// every link at its first ping).
// 8,772, 4,176: +1 B each for close(null) refused as WHATWG does (it closed with 1000).
// 8,771, 4,175: +4 B each for a jitter that is not a number counting as none (NaN delays made
// every retry fire at once).
// 8,767: +2 B for probeTimeout 0 meaning no probe (it dropped the link on every return to the tab).
// 8,765: +4 B for the heartbeat's maxMissed 0 counting as 1 (it ended every link at its first ping).
// 8,761: +8 B for checking retry and retryDeadline before the transport exists (a refused option
// threw after it, leaving it connecting with no owner).
// 8,753: +5 B for restored outbox entries resent after unavailable (they were given up at once).
// 8,748: -1 B for authRequired held until an attempt opens (unchanged for the transport).
// 8,749, 4,171: +12 B, +10 B for letting go of a socket on Node (a disposed or replaced socket
// held the process up to 30 s on a dead link, waiting for the answer to its close frame).
// 8,737: +3 B for the outbox counting the bytes an id adds on the wire (a message that fit
// maxPayload only without its id made the server close with 1009, ending the client).
// 8,734: +5 B (8,730 before) for close() telling the durable outbox what stays stored (a save
// asked for by an answer just before close() was skipped, leaving the answered entry stored),
// -1 B for a link drop walking the live map of subscriptions.
// 8,730: +8 B (8,728 measured) for the outbox checking only a new entry's size on add (it re-read
// every queued entry on each add: n²/2 byte counts for n messages queued offline).
// 4,161: +2 B (4,159 before) for `maxAttempts: 0` meaning no retry even after a 1013.
const budget = { reconnecting: 4498, clientWithSubscription: 9333 };

test('bundle sizes, minified + gzipped, within budget', async (t) => {
  const reconnectingOnly = await minifiedGzipSize(`export { ReconnectingWebSocket } from ${JSON.stringify(clientEntry)};`);
  // What an app using channels ships: a client, and a subscription on it.
  const clientWithSubscription = await minifiedGzipSize(
    `import { LifelineClient } from ${JSON.stringify(clientEntry)};\nexport const client = new LifelineClient('wss://example.com/ws');\nexport const sub = client.subscribe('room');`,
  );
  const wholeEntry = await minifiedGzipSize(`export * from ${JSON.stringify(clientEntry)};`);
  t.diagnostic(`ReconnectingWebSocket alone: ${reconnectingOnly} B min+gz (budget ${budget.reconnecting})`);
  t.diagnostic(`LifelineClient with a subscription: ${clientWithSubscription} B min+gz (budget ${budget.clientWithSubscription})`);
  t.diagnostic(`every export of lifeline/client (close-code prose, IndexedDB outbox, ...): ${wholeEntry} B min+gz`);
  assert.ok(reconnectingOnly > 0 && clientWithSubscription > reconnectingOnly && wholeEntry >= clientWithSubscription);
  assert.ok(reconnectingOnly <= budget.reconnecting, `ReconnectingWebSocket ${reconnectingOnly} B > ${budget.reconnecting} B budget`);
  assert.ok(clientWithSubscription <= budget.clientWithSubscription, `LifelineClient with a subscription ${clientWithSubscription} B > ${budget.clientWithSubscription} B budget`);
});

test('the heartbeat is opt-in: a bare ReconnectingWebSocket bundles none of it; withHeartbeat brings it, as LifelineClient does', async () => {
  const heartbeatFiles = (bundle: Bundle) => bundle.shipped.filter((input) => /^src\/(core\/heartbeat|client\/with-heartbeat|core\/envelope)\.ts$/.test(input)).sort();
  const bare = await minifiedBundle(`export { ReconnectingWebSocket } from ${JSON.stringify(clientEntry)};`);
  const opted = await minifiedBundle(`export { ReconnectingWebSocket, withHeartbeat } from ${JSON.stringify(clientEntry)};`);
  const client = await minifiedBundle(`export { LifelineClient } from ${JSON.stringify(clientEntry)};`);
  assert.deepEqual(heartbeatFiles(bare), []);
  assert.deepEqual(heartbeatFiles(opted), ['src/client/with-heartbeat.ts', 'src/core/envelope.ts', 'src/core/heartbeat.ts']);
  assert.ok(heartbeatFiles(client).includes('src/core/heartbeat.ts'));
});

test('the durable outbox is opt-in: a client without a store bundles none of it; a store (IndexedDbOutboxStore, withOutbox) brings it', async () => {
  const durableFiles = (bundle: Bundle) => bundle.shipped.filter((input) => /^src\/client\/(durable-outbox|outbox-store[\w-]*)\.ts$/.test(input)).sort();
  const bare = await minifiedBundle(`import { LifelineClient } from ${JSON.stringify(clientEntry)};\nexport const client = new LifelineClient('wss://example.com/ws');`);
  const indexedDb = await minifiedBundle(`import { LifelineClient, IndexedDbOutboxStore } from ${JSON.stringify(clientEntry)};\nexport const client = new LifelineClient('wss://example.com/ws', { outbox: new IndexedDbOutboxStore('x') });`);
  const wrapped = await minifiedBundle(`import { LifelineClient, withOutbox } from ${JSON.stringify(clientEntry)};\nexport const client = new LifelineClient('wss://example.com/ws', { outbox: withOutbox({ load: async () => undefined, save: async () => undefined }) });`);
  assert.deepEqual(durableFiles(bare), []);
  assert.deepEqual(durableFiles(indexedDb), ['src/client/durable-outbox.ts', 'src/client/outbox-store-indexeddb.ts']);
  assert.deepEqual(durableFiles(wrapped), ['src/client/durable-outbox.ts']);
});

test('token refresh is opt-in: a client without refreshToken bundles none of it; withTokenRefresh brings it', async () => {
  const refreshFiles = (bundle: Bundle) => bundle.shipped.filter((input) => input === 'src/client/token-refresh.ts');
  const bare = await minifiedBundle(`import { LifelineClient } from ${JSON.stringify(clientEntry)};\nexport const client = new LifelineClient('wss://example.com/ws');`);
  const opted = await minifiedBundle(`import { LifelineClient, withTokenRefresh } from ${JSON.stringify(clientEntry)};\nexport const client = new LifelineClient('wss://example.com/ws', { refreshToken: withTokenRefresh(async () => 'token') });`);
  assert.deepEqual(refreshFiles(bare), []);
  assert.deepEqual(refreshFiles(opted), ['src/client/token-refresh.ts']);
});

test('page awareness and retry hints are opt-in: a bare ReconnectingWebSocket bundles neither; LifelineClient brings both', async () => {
  const optIn = (bundle: Bundle) => bundle.shipped.filter((input) => /^src\/(client\/page-awareness|core\/retry-hint)\.ts$/.test(input)).sort();
  const bare = await minifiedBundle(`export { ReconnectingWebSocket } from ${JSON.stringify(clientEntry)};`);
  const opted = await minifiedBundle(`export { ReconnectingWebSocket, withPageAwareness, withRetryHints } from ${JSON.stringify(clientEntry)};`);
  const client = await minifiedBundle(`export { LifelineClient } from ${JSON.stringify(clientEntry)};`);
  assert.deepEqual(optIn(bare), []);
  assert.ok(!/visibilitychange|retry after/.test(bare.code), 'no page listeners nor hint parsing in the bare bundle');
  assert.deepEqual(optIn(opted), ['src/client/page-awareness.ts', 'src/core/retry-hint.ts']);
  assert.deepEqual(optIn(client), ['src/client/page-awareness.ts', 'src/core/retry-hint.ts']);
});

test("errors keep their names in a minified bundle (a minifier renames classes; error.name must not read like 'c')", async () => {
  const { code } = await minifiedBundle(`export { ConnectionClosedError, InvalidCloseError, LifelineError, ReplyError } from ${JSON.stringify(clientEntry)};`);
  const loaded = (await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`)) as Record<string, new (...args: never[]) => Error>;
  const names = Object.entries(loaded).map(([exported, ErrorClass]) => [exported, Reflect.construct(ErrorClass, ['ERR_SOCKET', 'x']).name]);
  assert.deepEqual(
    names,
    names.map(([exported]) => [exported, exported]),
  );
});
