// The standalone server assembled in process: what it refuses to start with, and how its HTTP
// side reports a broker that is down (readiness and the API answer 503, not 500).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { MemoryBroker } from '../../src/broker/memory-broker.js';
import { BrokerUnavailableError } from '../../src/core/errors.js';
import { LifelineError, LifelineServer } from '../../src/server/index.js';
import { createStandalone, DEFAULT_ADMISSION_RATE, DEFAULT_MAX_EVENT_LOOP_DELAY, DEFAULT_CHANNELS, type Standalone } from '../../src/standalone/standalone.js';
import { UsageError } from '../../src/standalone/usage-error.js';
import { eventually, within } from '../helpers/wait.js';

const log = pino({ level: 'silent' });
const KEY = 'standalone-test-key-0123456789';

/** A broker that can be taken down: every read then fails the way a networked broker does. */
class FlakyBroker extends MemoryBroker {
  down = false;
  #check(): void {
    if (this.down) throw new LifelineError('ERR_BROKER_UNAVAILABLE', 'the test took the broker down');
  }
  override async recover(...args: Parameters<MemoryBroker['recover']>): ReturnType<MemoryBroker['recover']> {
    this.#check();
    return super.recover(...args);
  }
  override async rewind(...args: Parameters<MemoryBroker['rewind']>): ReturnType<MemoryBroker['rewind']> {
    this.#check();
    return super.rewind(...args);
  }
  override async presence(...args: Parameters<MemoryBroker['presence']>): ReturnType<MemoryBroker['presence']> {
    this.#check();
    return super.presence(...args);
  }
  override async publish(...args: Parameters<MemoryBroker['publish']>): ReturnType<MemoryBroker['publish']> {
    this.#check();
    return super.publish(...args);
  }
  isReady(): boolean {
    return !this.down;
  }
}

let broker: FlakyBroker;
let standalone: Standalone;
let url: string;

before(async () => {
  broker = new FlakyBroker();
  standalone = createStandalone({ port: 0, allowAnonymous: true, apiKey: KEY, pingInterval: 0 }, { log, broker });
  url = (await standalone.server.listen()).url;
});
after(async () => {
  await standalone.server.close({ drainTimeout: 0 });
  await standalone.close();
});

const get = async (path: string, init?: RequestInit): Promise<{ status: number; body: Record<string, unknown>; retryAfter: string | null }> => {
  const response = await within(fetch(`${url}${path}`, { ...init, headers: { Authorization: `Bearer ${KEY}`, ...init?.headers } }), 5_000, path);
  return { status: response.status, body: (await response.json()) as Record<string, unknown>, retryAfter: response.headers.get('retry-after') };
};

test('it refuses to start without a way to authenticate, and names the flags that give one', () => {
  assert.throws(() => createStandalone({}, { log }), (error: unknown) => error instanceof UsageError && /--jwt-secret .* --jwt-public-key .* --allow-anonymous .* --demo/.test(error.message));
  assert.throws(() => createStandalone({ allowAnonymous: true, jwtIssuer: 'x' }, { log }), UsageError);
});

test('demo mode needs nothing: a secret and an API key are generated', async () => {
  const demo = createStandalone({ demo: true, port: 0 }, { log });
  assert.match(demo.apiKey ?? '', /^[A-Za-z0-9_-]{32}$/);
  assert.notEqual(createStandalone({ demo: true, port: 0 }, { log }).apiKey, demo.apiKey);
  assert.equal(createStandalone({ demo: true, apiKey: KEY, port: 0 }, { log }).apiKey, KEY, 'a given key is kept');
  assert.deepEqual(Object.keys(DEFAULT_CHANNELS), ['chat']);
});

test('lifeline serve admits new handshakes at a bounded rate unless told otherwise; the library default stays unlimited', () => {
  assert.equal(DEFAULT_ADMISSION_RATE, 500);
  assert.equal(createStandalone({ allowAnonymous: true, port: 0 }, { log }).server.options.admissionRate, DEFAULT_ADMISSION_RATE);
  assert.equal(createStandalone({ allowAnonymous: true, port: 0, admissionRate: 2000 }, { log }).server.options.admissionRate, 2000);
  assert.equal(new LifelineServer().options.admissionRate, Infinity);
});

test('the event-loop guard is off unless asked for, in lifeline serve as in the library; --max-event-loop-delay turns it on', () => {
  assert.equal(DEFAULT_MAX_EVENT_LOOP_DELAY, 0);
  assert.equal(createStandalone({ allowAnonymous: true, port: 0 }, { log }).server.options.maxEventLoopDelay, 0);
  assert.equal(createStandalone({ allowAnonymous: true, port: 0, maxEventLoopDelay: 100 }, { log }).server.options.maxEventLoopDelay, 100);
  assert.equal(new LifelineServer().options.maxEventLoopDelay, 0);
});

test('a broker that is down: /readyz 503 with the reason, the API 503 unavailable with Retry-After', async () => {
  assert.equal((await get('/readyz')).status, 200);
  broker.down = true;
  try {
    const ready = await get('/readyz');
    assert.deepEqual({ status: ready.status, body: ready.body }, { status: 503, body: { status: 'not_ready', reason: 'the broker is not ready' } });
    for (const [path, init] of [
      ['/api/v1/channels/chat:x/history', undefined],
      ['/api/v1/channels/chat:x/presence', undefined],
      ['/api/v1/channels/chat:x/publish', { method: 'POST', body: '{"data":1}', headers: { 'Content-Type': 'application/json' } }],
    ] as const) {
      const response = await get(path, init);
      assert.equal(response.status, 503, path);
      assert.equal((response.body.error as { code: string }).code, 'unavailable', path);
      assert.equal(response.retryAfter, '1', path);
    }
  } finally {
    broker.down = false;
  }
  assert.equal((await get('/api/v1/channels/chat:x/history')).status, 200, 'and back when it is');
});

test('HTTP publish backpressure: over maxPendingPublishes in progress a publish gets 429 with Retry-After, and nothing is published', async () => {
  let release = (): void => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  let calls = 0;
  class SlowBroker extends MemoryBroker {
    override async publish(...args: Parameters<MemoryBroker['publish']>): ReturnType<MemoryBroker['publish']> {
      calls++;
      await held;
      return super.publish(...args);
    }
  }
  const slow = new SlowBroker();
  const node = createStandalone({ port: 0, allowAnonymous: true, apiKey: KEY, pingInterval: 0, maxPendingPublishes: 2 }, { log, broker: slow });
  const base = (await node.server.listen()).url;
  try {
    const post = (n: number): Promise<Response> =>
      within(fetch(`${base}/api/v1/channels/chat:x/publish`, { method: 'POST', body: JSON.stringify({ data: n }), headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' } }), 10_000, `publish ${n}`);
    const first = [post(1), post(2)];
    // Both are in progress (held in the broker): one more is refused at once.
    await eventually(() => calls === 2, 'two publishes in progress', 10_000);
    const refused = await post(3);
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'busy');
    release();
    assert.deepEqual((await Promise.all(first)).map((response) => response.status), [200, 200]);
    assert.equal(calls, 2, 'the refused publish reached no broker');
  } finally {
    release();
    await node.server.close({ drainTimeout: 0 });
    await node.close();
  }
});

test('HTTP publish whose broker answer was lost: 503 that says it may be stored (never "nothing was published"); one that never reached the broker says nothing was', async () => {
  class LosingBroker extends MemoryBroker {
    /** Whether the next publish is stored before its answer is lost (true) or refused unsent (false). */
    sent = true;
    override async publish(...args: Parameters<MemoryBroker['publish']>): ReturnType<MemoryBroker['publish']> {
      if (!this.sent) throw new BrokerUnavailableError('the test refused it before writing', false);
      await super.publish(...args);
      throw new BrokerUnavailableError('the test lost the answer', true);
    }
  }
  const losing = new LosingBroker();
  const node = createStandalone({ port: 0, allowAnonymous: true, apiKey: KEY, pingInterval: 0 }, { log, broker: losing });
  const base = (await node.server.listen()).url;
  try {
    const post = async (): Promise<{ status: number; message: string }> => {
      const response = await within(fetch(`${base}/api/v1/channels/chat:lost/publish`, { method: 'POST', body: '{"data":1}', headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' } }), 5_000, 'publish');
      return { status: response.status, message: ((await response.json()) as { error: { message: string } }).error.message };
    };
    const lost = await post();
    assert.equal(lost.status, 503);
    assert.equal((await node.server.history('chat:lost')).events.length, 1, 'the event is stored');
    assert.doesNotMatch(lost.message, /nothing was published/);
    assert.match(lost.message, /may have been stored.*Idempotency-Key/);
    losing.sent = false;
    const unsent = await post();
    assert.equal(unsent.status, 503);
    assert.match(unsent.message, /nothing was published/);
  } finally {
    await node.server.close({ drainTimeout: 0 });
    await node.close();
  }
});
