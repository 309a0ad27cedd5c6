// GET /api/v1/channels/:channel/history without `since` while publishes land: the answer is the
// newest kept events, ending at the head it names.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { MemoryBroker } from '../../src/broker/memory-broker.js';
import { createStandalone, type Standalone } from '../../src/standalone/standalone.js';
import { within } from '../helpers/wait.js';

const log = pino({ level: 'silent' });
const KEY = 'http-history-test-key-0123456789';

/** Runs `between` once, right after the next read of a channel's head (a publish from elsewhere landing then). */
class InterleavingBroker extends MemoryBroker {
  between: (() => Promise<unknown>) | undefined;
  override async recover(...args: Parameters<MemoryBroker['recover']>): ReturnType<MemoryBroker['recover']> {
    return this.#then(await super.recover(...args));
  }
  override async rewind(...args: Parameters<MemoryBroker['rewind']>): ReturnType<MemoryBroker['rewind']> {
    return this.#then(await super.rewind(...args));
  }
  async #then<T>(answer: T): Promise<T> {
    const between = this.between;
    this.between = undefined;
    if (between) await between();
    return answer;
  }
}

let broker: InterleavingBroker;
let standalone: Standalone;
let url: string;

before(async () => {
  broker = new InterleavingBroker();
  standalone = createStandalone({ port: 0, allowAnonymous: true, apiKey: KEY, pingInterval: 0 }, { log, broker });
  url = (await standalone.server.listen()).url;
});
after(async () => {
  await standalone.server.close({ drainTimeout: 0 });
  await standalone.close();
});

interface Page {
  readonly position: { readonly epoch: string; readonly offset: number };
  readonly events: readonly { readonly offset: number; readonly data: unknown }[];
  readonly recovered: boolean;
  readonly more: boolean;
}

test('history without since while a publish lands: the newest events up to the head it answers, never an older run flagged "more"', async () => {
  const channel = 'chat:history-race';
  for (let i = 1; i <= 5; i++) await standalone.server.publish(channel, i);
  broker.between = () => standalone.server.publish(channel, 6);
  const response = await within(fetch(`${url}/api/v1/channels/${encodeURIComponent(channel)}/history?limit=2`, { headers: { Authorization: `Bearer ${KEY}` } }), 5_000, 'history');
  assert.equal(response.status, 200);
  const page = (await response.json()) as Page;
  assert.equal(broker.between, undefined, 'the publish landed during the read');
  const offsets = page.events.map((event) => event.offset);
  assert.equal(offsets.length, 2, 'limit events');
  assert.equal(offsets.at(-1), page.position.offset, `the events end at the head answered (events ${offsets.join(', ')}, head ${page.position.offset})`);
  assert.deepEqual(offsets, [page.position.offset - 1, page.position.offset]);
  assert.deepEqual({ recovered: page.recovered, more: page.more }, { recovered: true, more: false });
  // Without the interleaving publish, the newest two of six.
  const again = (await (await fetch(`${url}/api/v1/channels/${encodeURIComponent(channel)}/history?limit=2`, { headers: { Authorization: `Bearer ${KEY}` } })).json()) as Page;
  assert.deepEqual(
    again.events.map((event) => event.data),
    [5, 6],
  );
});
