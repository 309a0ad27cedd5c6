/**
 * One client per `FileOutboxStore` path: a second one, in this process or another, is refused
 * with `ERR_OUTBOX_LOCKED` instead of loading and resending the same entries; a lock left by a
 * process that was killed is taken over; the lock goes at `close()` and at a normal exit.
 * Real files in a temporary directory, a real server, a real second process.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test, type TestContext } from 'node:test';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { FileOutboxStore, LifelineClient, LifelineError, type OutboxEvent, type OutboxSnapshot } from '../../src/client/node.js';
import { OutboxLock } from '../../src/client/outbox-lock.js';
import { running } from '../../src/client/pid-files.js';
import { startServer } from '../../src/testing/server-fixture.js';
import { killProcess, spawnTracked } from '../helpers/processes.js';
import { fast, outboxFile, watch } from '../helpers/outbox-files.js';
import { eventually, until, within } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const channels = { chat: {} };
const body = (channel: string, data: unknown): string => JSON.stringify({ type: 'publish', channel, data });
const ignore = (): undefined => undefined;
/** A URL that never resolves: a client offline for good, that still takes its store. */
const offline = (): Promise<string> => new Promise<string>(ignore);

/** A file holding one publish made offline (never sent) on `channel`. */
async function storedPublish(path: string, channel: string): Promise<OutboxSnapshot> {
  const snapshot: OutboxSnapshot = { entries: [{ kind: 'publish', body: body(channel, 'stored'), id: 0 }] };
  await new FileOutboxStore(path).save(snapshot);
  return snapshot;
}

/** The `ERR_OUTBOX_LOCKED` error the client reports (any other error event is ignored). */
function refusal(client: LifelineClient): Promise<LifelineError> {
  const refused = until(client, 'error', (e) => (e as Event & { error: unknown }).error instanceof LifelineError && (e as Event & { error: LifelineError }).error.code === 'ERR_OUTBOX_LOCKED');
  return within(refused, 5_000, 'the client refused the store').then((e) => (e as Event & { error: LifelineError }).error);
}

/** Records the client's `ERR_OUTBOX_LOCKED` errors, to show there are none. */
function refusals(client: LifelineClient): LifelineError[] {
  const seen: LifelineError[] = [];
  client.addEventListener('error', (e) => {
    if (e.error instanceof LifelineError && e.error.code === 'ERR_OUTBOX_LOCKED') seen.push(e.error);
  });
  return seen;
}

/**
 * A second process with a client on `path` (offline), once its store has loaded (it holds the
 * lock then). A line on its stdin makes it exit normally without closing the client.
 */
async function holder(t: TestContext, path: string): Promise<ChildProcessWithoutNullStreams> {
  const script = `
    import { FileOutboxStore, LifelineClient } from './src/client/node.ts';
    const store = new FileOutboxStore(process.env.OUTBOX);
    const client = new LifelineClient(() => new Promise(() => {}), { outbox: store });
    client.addEventListener('error', (e) => console.log('error', e.error.code));
    await store.idle();
    console.log('held');
    await new Promise((resolve) => process.stdin.once('data', resolve));
    process.exit(0);
  `;
  const child = spawnTracked(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, env: { ...process.env, OUTBOX: path } });
  t.after(() => killProcess(child));
  child.stderr.pipe(process.stderr);
  let out = '';
  const held = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('held\n')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the holder exited (${code}) before it held the store: ${out}`)));
  });
  await within(held, 15_000, 'the second process holds the store');
  assert.equal(out, 'held\n', 'it was not refused');
  return child;
}

const lockFiles = async (path: string): Promise<string[]> => (await readdir(join(path, '..'))).filter((name) => name.endsWith('.lock')).sort();

describe('FileOutboxStore: one client per path', () => {
  test('a second client on the path in this process is refused (ERR_OUTBOX_LOCKED): the stored publish goes out once; after close() the next one resumes', async (t) => {
    const path = await outboxFile(t);
    await storedPublish(path, 'chat:same');
    const fixture = await startServer({ channels });
    const watcher = await watch(fixture.wsUrl, 'chat:same');
    const first = new LifelineClient(fixture.wsUrl, { ...fast, outbox: new FileOutboxStore(path) });
    const firstRefusals = refusals(first);
    const second = new LifelineClient(fixture.wsUrl, { ...fast, outbox: new FileOutboxStore(path) });
    let third: LifelineClient | undefined;
    try {
      const refused = await refusal(second);
      assert.match(refused.message, /outbox file .*outbox\.json is in use: another client in this process has it open/);
      const restored: OutboxEvent[] = [];
      second.addEventListener('outbox', (e) => restored.push(e));
      // Both publish after the stored one: once their events are in, a second copy of it would be too.
      await within(Promise.all([first.publish('chat:same', 'first'), second.publish('chat:same', 'second')]), 5_000, 'both published');
      await eventually(() => watcher.events.length >= 3, 'three events', 5_000);
      assert.deepEqual([...watcher.events].sort(), ['first', 'second', 'stored'], 'the stored publish went out once');
      assert.deepEqual(restored, [], 'the refused client restored nothing');
      assert.deepEqual(firstRefusals, []);
      await eventually(async () => ((JSON.parse(await readFile(path, 'utf8')) as OutboxSnapshot).session === first.session), "the first client's session stored", 5_000);
      assert.deepEqual(await lockFiles(path), [`outbox.json.${process.pid}.lock`]);

      first.close();
      second.close();
      third = new LifelineClient(offline, { ...fast, outbox: new FileOutboxStore(path) });
      const thirdRefusals = refusals(third);
      await within(new FileOutboxStore(path).idle(), 5_000, "the third client's load");
      assert.deepEqual(thirdRefusals, [], 'the lock was let go at close()');
      assert.equal(third.session, first.session, 'it resumes what the first one left');
      third.close();
      await within(new FileOutboxStore(path).idle(), 5_000, "the third client's last save");
      assert.deepEqual(await lockFiles(path), [], 'no lock left once every client has closed');
    } finally {
      first.close();
      second.close();
      third?.close();
      watcher.client.close();
      await fixture.close();
    }
  });

  test("idle() waits for the holder's last save and lock, not for a client refused after it", async (t) => {
    const path = await outboxFile(t);
    const first = new LifelineClient(offline, { ...fast, outbox: new FileOutboxStore(path) });
    const second = new LifelineClient(offline, { ...fast, outbox: new FileOutboxStore(path) });
    try {
      await refusal(second);
      void first.publish('chat:idle', 'kept').catch(ignore);
      first.close();
      second.close();
      await within(new FileOutboxStore(path).idle(), 5_000, 'the last save');
      assert.deepEqual(await lockFiles(path), [], 'the lock is gone once idle() resolves');
      assert.equal((JSON.parse(await readFile(path, 'utf8')) as OutboxSnapshot).entries.length, 1, 'the publish stored');
    } finally {
      first.close();
      second.close();
    }
  });

  test('one store handed to two clients: the second is refused', async (t) => {
    const path = await outboxFile(t);
    const store = new FileOutboxStore(path);
    const first = new LifelineClient(offline, { ...fast, outbox: store });
    const second = new LifelineClient(offline, { ...fast, outbox: store });
    try {
      assert.equal((await refusal(second)).code, 'ERR_OUTBOX_LOCKED');
    } finally {
      first.close();
      second.close();
    }
  });

  test('a lock an earlier process with this pid left (a restarted container) is taken over', async (t) => {
    const path = await outboxFile(t);
    const mine = `${path}.${process.pid}.lock`;
    await writeFile(mine, JSON.stringify({ pid: process.pid, life: 'an earlier one', lock: 1 }));
    const client = new LifelineClient(offline, { ...fast, outbox: new FileOutboxStore(path) });
    const seen = refusals(client);
    try {
      await within(new FileOutboxStore(path).idle(), 5_000, 'the load');
      assert.deepEqual(seen, []);
      assert.notEqual((JSON.parse(await readFile(mine, 'utf8')) as { life: string }).life, 'an earlier one');
    } finally {
      client.close();
    }
    await within(new FileOutboxStore(path).idle(), 5_000, 'the last save');
    assert.deepEqual(await lockFiles(path), []);
  });

  test('the lock of a path named as this one plus a number is not taken for a lock of this one: it is neither removed by it nor refuses it', async (t) => {
    const path = await outboxFile(t);
    // `outbox.json.<n>.<pid>.lock`, a lock of `outbox.json.<n>`, has the shape of a lock of
    // `outbox.json` with a counter: it must not read as the lock of process <n>, ended ...
    let gone = 4_000_000;
    for (let n = 0; n < 1_000 && running(gone); n++) gone++;
    assert.equal(running(gone), false, 'a pid no process has');
    const other = new OutboxLock(`${path}.${gone}`);
    const locks = [other];
    try {
      await within(other.taken, 5_000, 'the lock of outbox.json.<gone>');
      const first = new OutboxLock(path);
      locks.push(first);
      await within(first.taken, 5_000, 'the lock of outbox.json');
      assert.deepEqual(await lockFiles(path), [`outbox.json.${gone}.${process.pid}.lock`, `outbox.json.${process.pid}.lock`].sort(), 'the other lock kept');
      await first.release(Promise.resolve());
      // ... or running.
      const live = new OutboxLock(`${path}.${process.ppid}`);
      locks.push(live);
      await within(live.taken, 5_000, 'the lock of outbox.json.<ppid>');
      const second = new OutboxLock(path);
      locks.push(second);
      await within(second.taken, 5_000, 'the lock of outbox.json again');
    } finally {
      for (const lock of locks) lock.taken.catch(ignore);
      await Promise.all(locks.map((lock) => lock.release(Promise.resolve())));
    }
    assert.deepEqual(await lockFiles(path), []);
  });

  test('a lock an earlier process with this pid left, taken at once by clients on two spellings of the path: one holds it, the other is refused', async (t) => {
    const path = await outboxFile(t);
    await writeFile(`${path}.${process.pid}.lock`, JSON.stringify({ pid: process.pid, life: 'an earlier one', lock: 1 }));
    const locks = [new OutboxLock(path), new OutboxLock(path.replace(/outbox\.json$/, './outbox.json'))];
    assert.notEqual(locks[0]?.path, locks[1]?.path, 'two spellings');
    try {
      const outcomes = await within(Promise.allSettled(locks.map((lock) => lock.taken)), 5_000, 'both settled');
      assert.deepEqual(outcomes.map((outcome) => outcome.status).sort(), ['fulfilled', 'rejected']);
      const refused = outcomes.find((outcome) => outcome.status === 'rejected');
      assert.equal((refused?.reason as LifelineError).code, 'ERR_OUTBOX_LOCKED');
    } finally {
      for (const lock of locks) lock.taken.catch(ignore);
      await Promise.all(locks.map((lock) => lock.release(Promise.resolve())));
    }
    assert.deepEqual(await lockFiles(path), []);
  });

  test('a worker thread of this process is refused the lock this thread holds (the same pid, another copy of the module): it is not taken for an earlier process', async (t) => {
    const path = await outboxFile(t);
    const mine = new OutboxLock(path);
    await within(mine.taken, 5_000, 'the lock');
    const code = `
      const { register } = await import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))});
      register();
      const { OutboxLock } = await import(${JSON.stringify(new URL('../../src/client/outbox-lock.ts', import.meta.url).href)});
      const { parentPort, workerData } = await import('node:worker_threads');
      const lock = new OutboxLock(workerData);
      await lock.taken.then(() => parentPort.postMessage('taken'), (error) => parentPort.postMessage(error.code ?? error.message));
      await lock.release(Promise.resolve());
    `;
    const worker = new Worker(code, { eval: true, workerData: path });
    t.after(() => worker.terminate());
    try {
      const [answer] = (await within(once(worker, 'message'), 15_000, "the worker's try")) as [string];
      assert.equal(answer, 'ERR_OUTBOX_LOCKED');
      assert.deepEqual(await lockFiles(path), [`outbox.json.${process.pid}.lock`]);
      const record = JSON.parse(await readFile(`${path}.${process.pid}.lock`, 'utf8')) as { lock: number };
      assert.equal(typeof record.lock, 'number', "this thread's record");
    } finally {
      await mine.release(Promise.resolve());
    }
    assert.deepEqual(await lockFiles(path), []);
  });

  test("a closed client's last save that never ends holds up its own path only", async (t) => {
    const [path, other] = [await outboxFile(t), await outboxFile(t)];
    const first = new OutboxLock(path);
    await within(first.taken, 5_000, 'the first lock');
    void first.release(new Promise<void>(ignore)); // its last save hangs
    const next = new OutboxLock(path); // waits for that save, for ever
    next.taken.catch(ignore);
    const elsewhere = new OutboxLock(other);
    await within(elsewhere.taken, 5_000, 'the lock of another path');
    assert.equal(elsewhere.file, `${other}.${process.pid}.lock`);
    assert.equal(next.file, undefined);
    await elsewhere.release(Promise.resolve());
    assert.deepEqual(await lockFiles(other), []);
  });
});

describe('FileOutboxStore: one process per path', () => {
  test('a client in another process holds the path: this one is refused and leaves the file alone; once that process is killed, its lock is taken over', async (t) => {
    const path = await outboxFile(t);
    const snapshot = await storedPublish(path, 'chat:other');
    const child = await holder(t, path);
    const fixture = await startServer({ channels });
    const watcher = await watch(fixture.wsUrl, 'chat:other');
    const refused = new LifelineClient(fixture.wsUrl, { ...fast, outbox: new FileOutboxStore(path) });
    let next: LifelineClient | undefined;
    try {
      const error = await refusal(refused);
      assert.match(error.message, new RegExp(`is in use: process ${child.pid} has it open \\(its lock: .*outbox\\.json\\.${child.pid}\\.lock`));
      await within(refused.publish('chat:other', 'marker'), 5_000, 'the marker published');
      await eventually(() => watcher.events.includes('marker'), 'the marker', 5_000);
      assert.deepEqual(watcher.events, ['marker'], 'the stored publish is not sent by this process');
      assert.deepEqual(JSON.parse(await readFile(path, 'utf8')), snapshot, 'the file is left as the holder has it');
      assert.deepEqual(await lockFiles(path), [`outbox.json.${child.pid}.lock`], 'the refused client removed its own lock file again');
      refused.close();

      // A crash: the holder's lock stays behind, naming a process that is gone.
      await killProcess(child, 'SIGKILL');
      assert.deepEqual(await lockFiles(path), [`outbox.json.${child.pid}.lock`]);
      next = new LifelineClient(fixture.wsUrl, { ...fast, outbox: new FileOutboxStore(path) });
      const seen = refusals(next);
      const outcome = (await within(until(next, 'outbox', () => true), 5_000, 'the stored publish sent')) as OutboxEvent;
      assert.equal(outcome.entry.body, body('chat:other', 'stored'));
      assert.deepEqual(seen, []);
      await eventually(() => watcher.events.length === 2, 'the stored publish', 5_000);
      assert.deepEqual(watcher.events, ['marker', 'stored']);
      assert.deepEqual(await lockFiles(path), [`outbox.json.${process.pid}.lock`], "the dead process's lock is gone, this one's taken");
    } finally {
      refused.close();
      next?.close();
      watcher.client.close();
      await fixture.close();
    }
  });

  test('a process that exits without closing its client removes its lock', async (t) => {
    const path = await outboxFile(t);
    const child = await holder(t, path);
    assert.deepEqual(await lockFiles(path), [`outbox.json.${child.pid}.lock`]);
    const exited = once(child, 'exit');
    child.stdin.end('exit\n');
    assert.deepEqual(await within(exited, 10_000, 'the holder exited'), [0, null]);
    assert.deepEqual(await lockFiles(path), []);
  });
});
