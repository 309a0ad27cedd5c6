/**
 * Tests against a real Redis server: `REDIS_URL` (default redis://127.0.0.1:6379; `npm test`
 * starts a local redis-server when nothing answers there).
 *
 * Skip rule: without a reachable Redis the tests skip and say why, except on CI (`CI=true`),
 * where an unreachable Redis fails them.
 */
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';

export const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Whether something accepts TCP connections at the Redis URL's host and port (within 1 s). */
function reachable(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname.replace(/^\[|\]$/g, ''), port: Number(port || 6379) });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

const available = await reachable(redisUrl);

/** `skip` option for Redis tests: a reason when Redis is unreachable (never on CI, where the tests then fail). */
export const redisSkip: string | false = available || process.env.CI === 'true' ? false : `no Redis answers at ${redisUrl} (set REDIS_URL or start redis-server)`;

/** A key prefix no other test run shares. */
export function testPrefix(): string {
  return `lifeline-test:${randomUUID().slice(0, 8)}:`;
}
