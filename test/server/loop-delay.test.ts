/**
 * `maxEventLoopDelay` over real sockets: while the server's event loop is made slow for real (a
 * synchronous busy-wait of 150 ms every 200 ms in this process, which is the server's), a new
 * handshake is refused 503 + Retry-After (4503 in close mode) and counted as `busy` (from the
 * second stall: one alone is not a loop that is behind); once the
 * stalls stop, a handshake is accepted again; a client connected before keeps its connection and
 * its answers throughout. The threshold (80 ms) is well under the stall and well over what a busy
 * machine's scheduling adds, and a busy machine can only make the test see more refusals before
 * the accept it waits for.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import WebSocket from 'ws';
import { LoopDelayMonitor } from '../../src/server/loop-delay-monitor.js';
import { FakeClock } from '../../src/testing/fake-clock.js';
import { eventually } from '../helpers/wait.js';
import { RawSocket, type RawResponse } from '../helpers/raw-socket.js';
import { DEADLINE, serve, shutdown, within } from './support.js';
import { ProtocolClient } from './protocol/protocol-client.js';

const THRESHOLD_MS = 80;
const STALL_MS = 150;
const STALL_EVERY_MS = 200;
/** The stalls stop by themselves after this many (a bound, if a test fails before stopping them). */
const MAX_STALLS = 50;

/** Busy-waits `ms` on this thread: the event loop runs nothing else meanwhile. */
function stall(ms: number): number {
  const end = performance.now() + ms;
  let spins = 0;
  while (performance.now() < end) spins++;
  return spins;
}

/** Stalls the event loop for STALL_MS every STALL_EVERY_MS until stopped (at most MAX_STALLS times). */
function stallRepeatedly(t: TestContext): { readonly count: () => number; stop(): void } {
  let count = 0;
  const timer = setInterval(() => {
    stall(STALL_MS);
    if (++count >= MAX_STALLS) clearInterval(timer);
  }, STALL_EVERY_MS);
  const stop = (): void => clearInterval(timer);
  t.after(stop);
  return { count: () => count, stop };
}

/** One raw handshake: its response (the socket is gone afterwards). */
async function attempt(port: number): Promise<RawResponse> {
  const raw = await RawSocket.request(port);
  try {
    return await raw.readResponse();
  } finally {
    raw.destroy();
  }
}

/** Handshakes until one is accepted (within 15 s), each refusal meanwhile a busy one. */
async function acceptedOnceOnTime(port: number, what: string): Promise<RawResponse> {
  let accepted: RawResponse | undefined;
  await eventually(async () => {
    const response = await attempt(port);
    if (response.status === 101) accepted = response;
    else assert.equal(response.body, 'server is busy\n', `only busy refusals before the loop is on time, got ${response.statusLine}`);
    return accepted !== undefined;
  }, what, 15_000);
  return accepted as RawResponse;
}

describe('maxEventLoopDelay: new handshakes wait while the event loop is behind', () => {
  test('while the loop stalls: 503 "server is busy" with Retry-After 1-3 s, counted as busy; after: accepted; the connected client is served throughout', async (t) => {
    const fixture = await serve(t, { maxEventLoopDelay: THRESHOLD_MS });
    const { server } = fixture;
    server.handle('echo', (params) => params);
    const rejected: string[] = [];
    server.on('rejected', (rejection) => rejected.push(`${rejection.kind} ${rejection.status}`));
    // Before the stalls the loop is on time, but a loaded machine can deschedule this process
    // twice in a row for longer than the threshold, which is a loop behind all the same: a busy
    // refusal then is the server being right, so the first handshakes may be retried.
    await acceptedOnceOnTime(fixture.port, 'a handshake accepted while the loop is on time');
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);

    const stalls = stallRepeatedly(t);
    await eventually(() => stalls.count() >= 2, 'two stalls');
    const refused = await attempt(fixture.port);
    assert.equal(refused.status, 503);
    assert.equal(refused.body, 'server is busy\n');
    assert.match(refused.headers['retry-after'] ?? '', /^[123]$/);
    assert.ok(rejected.includes('busy 503'), `rejected: ${rejected.join(', ')}`);
    assert.ok((server.stats.refusals.get('busy') ?? 0) >= 1);
    assert.equal(server.stats.handshakes.get(503), server.stats.refusals.get('busy'), 'every 503 here was a busy refusal');
    // The connected client's requests are answered between the stalls: only new handshakes wait.
    assert.deepEqual(await client.request(1, 'echo', { during: true }), { type: 'result', id: 1, data: { during: true } });

    stalls.stop();
    const stalledFor = stalls.count();
    await acceptedOnceOnTime(fixture.port, 'a handshake accepted once the loop has caught up');
    assert.ok(stalledFor >= 1);
    assert.deepEqual(await client.request(2, 'echo', { after: true }), { type: 'result', id: 2, data: { after: true } });
    assert.equal(client.ws.readyState, WebSocket.OPEN);
  });

  test('close mode: accepted and closed at once with 4503 and a retry hint in the reason', async (t) => {
    const fixture = await serve(t, { maxEventLoopDelay: THRESHOLD_MS, handshakeRejection: 'close' });
    const rejected: string[] = [];
    fixture.server.on('rejected', (rejection) => rejected.push(rejection.kind));
    const stalls = stallRepeatedly(t);
    await eventually(() => stalls.count() >= 2, 'two stalls');
    const ws = new WebSocket(fixture.wsUrl);
    ws.on('error', () => undefined);
    const [code, reason] = (await within(new Promise((resolve) => ws.once('close', (...args) => resolve(args))), DEADLINE, 'the refused socket to close')) as [number, Buffer];
    stalls.stop();
    assert.equal(code, 4503);
    assert.match(reason.toString('utf8'), /^server is busy; retry after [123]000 ms, spread over [123]000 ms$/);
    assert.deepEqual(rejected, ['busy']);
    assert.equal(fixture.server.stats.refusals.get('busy'), 1);
  });

  test('a busy refusal spends the admission token it finds, so the time behind saves up no burst', async (t) => {
    // Time is a fake clock plus a skew: moving the skew makes the armed sample overdue (behind)
    // without running it, and running it then reports one late sample (not behind any more).
    const fake = new FakeClock();
    let skew = 0;
    const clock = { now: () => fake.now() + skew, setTimeout: fake.setTimeout.bind(fake), clearTimeout: fake.clearTimeout.bind(fake) };
    const fixture = await serve(t, { clock, pingInterval: 0, admissionRate: 1, maxEventLoopDelay: 20 });
    const kinds: string[] = [];
    fixture.server.on('rejected', (rejection) => kinds.push(rejection.kind));
    skew = 1_000; // the bucket is full (1 token); the sample due at 10 is overdue by 990
    assert.equal((await attempt(fixture.port)).status, 503);
    assert.ok(fake.runNext(), 'the sample runs: one late sample, not behind any more');
    const after = await attempt(fixture.port);
    assert.equal(after.status, 503);
    assert.deepEqual(kinds, ['busy', 'rate'], 'the busy refusal took the token the next handshake would have had');
  });

  test('the sampling timer runs only while the server serves, and not at all when the option is off', async (t) => {
    const clock = new FakeClock();
    const off = await serve(t, { clock, pingInterval: 0 });
    const base = clock.pending;
    const on = await serve(t, { clock, pingInterval: 0, maxEventLoopDelay: THRESHOLD_MS });
    assert.equal(clock.pending, base + 1, 'one sampling timer');
    await clock.tickAsync(1_000); // samples on time: the timer re-arms, one at a time
    assert.equal(clock.pending, base + 1);
    await shutdown(on.server);
    await shutdown(off.server);
    assert.equal(clock.pending, 0);
  });
});

describe('LoopDelayMonitor', () => {
  test('one timer between start and stop; never behind when off (0 or Infinity)', () => {
    const clock = new FakeClock();
    const monitor = new LoopDelayMonitor(clock, 40);
    monitor.start();
    monitor.start();
    assert.equal(clock.pending, 1);
    clock.tick(200);
    assert.equal(clock.pending, 1);
    assert.equal(monitor.behind(), false);
    monitor.stop();
    assert.equal(clock.pending, 0);
    for (const off of [0, Infinity]) {
      const idle = new LoopDelayMonitor(clock, off);
      idle.start();
      assert.equal(clock.pending, 0);
      assert.equal(idle.behind(), false);
      assert.equal(idle.lastDelay, 0);
    }
  });
});
