/** What the tests of a `FileOutboxStore` against a real server share. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { LifelineClient } from '../../src/client/node.js';
import { within } from './wait.js';

/** Quick reconnects, for clients of a local server. */
export const fast = { initialDelay: 10, maxDelay: 50 };

/** `outbox.json` in a new temporary directory, removed after the test. */
export async function outboxFile(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lifeline-client-outbox-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'outbox.json');
}

/** Every event of `channel`, seen by a plain client (no outbox) subscribed to it. */
export async function watch(url: string, channel: string): Promise<{ readonly client: LifelineClient; readonly events: unknown[] }> {
  const client = new LifelineClient(url, fast);
  const events: unknown[] = [];
  const sub = client.subscribe(channel, { event: (e) => events.push(e.data) });
  await within(sub.ready(), 5_000, 'the watcher subscribed');
  return { client, events };
}
