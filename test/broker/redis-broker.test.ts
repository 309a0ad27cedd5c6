/**
 * The Redis broker against a real Redis server: the shared Broker contract, unchanged, and what
 * only a networked broker has to promise (several brokers as several nodes, history surviving a
 * node, connection loss).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createClient } from '@redis/client';
import { pino } from 'pino';
import { RedisBroker } from '../../src/redis/index.js';
import { RedisKeys } from '../../src/redis/keys.js';
import { FakeClock } from '../../src/testing/fake-clock.js';
import { redisSkip, redisUrl, testPrefix } from '../helpers/redis.js';
import { brokerContract } from './contract.js';

describe('RedisBroker', { skip: redisSkip }, () => {
  brokerContract('RedisBroker', (clock, limits) => RedisBroker.connect({ url: redisUrl, prefix: testPrefix(), clock, ...limits }));

  test('the per-user key quota never fails a publish: when its count fails, the event is published, acknowledged once, and the failure logged at most every 10 s', async (t) => {
    const prefix = testPrefix();
    const lines: { msg?: string; failures?: number }[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line) as { msg?: string; failures?: number }) });
    const clock = new FakeClock();
    const broker = await RedisBroker.connect({ url: redisUrl, prefix, clock, logger, maxKeysPerUser: 2 });
    t.after(() => broker.close());
    // The user's index is not a sorted set (a foreign key, say): every count fails with WRONGTYPE.
    const admin = createClient({ url: redisUrl, RESP: 2 });
    admin.on('error', () => undefined);
    await admin.connect();
    t.after(() => admin.destroy());
    await admin.sendCommand(['SET', new RedisKeys(prefix).heldKeys('u:"ann"'), 'not a sorted set']);
    const policy = { size: 100, ttl: 600_000 };
    const keyed = (i: number) => ({ key: `u:"ann"\n${i}`, digest: `d-${i}`, ttl: 86_400_000, holder: 'u:"ann"' });
    const offsets: number[] = [];
    for (let i = 1; i <= 3; i++) offsets.push((await broker.publish('doc', i, policy, keyed(i))).offset);
    assert.deepEqual(offsets, [1, 2, 3], 'each publish went through');
    assert.equal((await broker.publish('doc', 1, policy, keyed(1))).offset, 1, 'and still deduplicates');
    const warned = () => lines.filter((line) => line.msg?.startsWith('idempotency-key quota not applied'));
    assert.deepEqual(warned().map((line) => line.failures), [1], 'one line for four failures within 10 s');
    clock.tick(10_000);
    await broker.publish('doc', 5, policy, keyed(5));
    assert.deepEqual(warned().map((line) => line.failures), [1, 4], 'the next line counts the failures since the last');
  });
});
