import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { killProcess, spawnTracked } from '../helpers/processes.js';
import { FileOutboxStore, MemoryOutboxStore, type OutboxSnapshot } from '../../src/client/node.js';

const snapshot: OutboxSnapshot = {
  session: 's-1',
  entries: [
    { kind: 'publish', body: '{"type":"publish","channel":"chat:a","data":{"n":1}}', id: 3 },
    { kind: 'request', body: '{"type":"request","method":"add","params":[1,2]}', id: 0 },
  ],
};

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lifeline-outbox-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('MemoryOutboxStore', () => {
  test('holds nothing until a save; then what was saved', async () => {
    const store = new MemoryOutboxStore();
    assert.equal(await store.load(), undefined);
    await store.save(snapshot);
    assert.deepEqual(await store.load(), snapshot);
    await store.save({ entries: [] });
    assert.deepEqual(await store.load(), { entries: [] });
  });
});

describe('FileOutboxStore', () => {
  test('a missing file is an empty outbox; a save is read back by a new store on the same path', async (t) => {
    const path = join(await tempDir(t), 'outbox.json');
    assert.equal(await new FileOutboxStore(path).load(), undefined);
    await new FileOutboxStore(path).save(snapshot);
    assert.deepEqual(await new FileOutboxStore(path).load(), snapshot);
    assert.deepEqual(JSON.parse(await readFile(path, 'utf8')), snapshot, 'plain JSON on disk');
  });

  test('saves are atomic: a temporary file renamed over the old one, none left behind; the directory is created', async (t) => {
    const dir = await tempDir(t);
    const path = join(dir, 'nested', 'deeper', 'outbox.json');
    const store = new FileOutboxStore(path);
    for (let n = 0; n < 5; n++) await store.save({ session: `s-${n}`, entries: snapshot.entries.slice(0, n % 3) });
    assert.deepEqual(await readdir(join(dir, 'nested', 'deeper')), ['outbox.json']);
    assert.deepEqual(await store.load(), { session: 's-4', entries: snapshot.entries.slice(0, 1) });
  });

  test('a temporary file left by a crash in the middle of a save changes nothing', async (t) => {
    const dir = await tempDir(t);
    const path = join(dir, 'outbox.json');
    await new FileOutboxStore(path).save(snapshot);
    await writeFile(`${path}.12345.tmp`, '{"session":"s-half', 'utf8');
    assert.deepEqual(await new FileOutboxStore(path).load(), snapshot);
  });

  test('temporary files of saves cut short by a process that has ended are removed at load; a running process\'s are left', async (t) => {
    const dir = await tempDir(t);
    const path = join(dir, 'outbox.json');
    await new FileOutboxStore(path).save(snapshot);
    // A pid that ran and has ended (its process reaped), this process's own (a restart under the
    // same pid), and one still running.
    const ended = spawnTracked(process.execPath, ['-e', '']);
    await once(ended, 'exit');
    const alive = spawnTracked(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)']);
    t.after(() => killProcess(alive));
    const left = [`outbox.json.${ended.pid}.3.tmp`, `outbox.json.${process.pid}.9.tmp`, `outbox.json.${ended.pid}.tmp`];
    const kept = [`outbox.json.${alive.pid}.1.tmp`, 'outbox.json.notes.tmp', 'other.json.1.1.tmp'];
    for (const name of [...left, ...kept]) await writeFile(join(dir, name), '{"session":"s-half', 'utf8');
    assert.deepEqual(await new FileOutboxStore(path).load(), snapshot);
    assert.deepEqual((await readdir(dir)).sort(), ['outbox.json', ...kept].sort());
  });

  test('a second corrupt file does not overwrite the copy kept of the first', async (t) => {
    const path = join(await tempDir(t), 'outbox.json');
    for (const text of ['{"first', '{"second', '{"third']) {
      await writeFile(path, text, 'utf8');
      await assert.rejects(new FileOutboxStore(path).load(), /moved aside/);
    }
    assert.equal(await readFile(`${path}.corrupt`, 'utf8'), '{"first');
    assert.equal(await readFile(`${path}.corrupt.1`, 'utf8'), '{"second');
    assert.equal(await readFile(`${path}.corrupt.2`, 'utf8'), '{"third');
  });

  for (const [what, text] of [
    ['not JSON', '{"session":"s-1","entries":[{"kind":"pub'],
    ['not an object', '[1,2,3]'],
    ['entries missing', '{"session":"s-1"}'],
    ['a session that is not a string', '{"session":42,"entries":[]}'],
    ['an entry of an unknown kind', '{"entries":[{"kind":"subscribe","body":"{}","id":1}]}'],
    ['an entry whose body is not a JSON object text', '{"entries":[{"kind":"publish","body":"[1]","id":1}]}'],
    ['an entry with a negative id', '{"entries":[{"kind":"publish","body":"{}","id":-1}]}'],
    ['two entries with one id', '{"entries":[{"kind":"publish","body":"{\\"type\\":\\"publish\\"}","id":4},{"kind":"publish","body":"{\\"type\\":\\"publish\\"}","id":4}]}'],
    ['an entry whose body is of another kind', '{"entries":[{"kind":"request","body":"{\\"type\\":\\"publish\\"}","id":1}]}'],
    ['a session longer than a hello carries', `{"session":"${'s'.repeat(65)}","entries":[]}`],
  ] as const) {
    test(`a corrupt file (${what}) is reported clearly, moved aside, and the store starts empty`, async (t) => {
      const path = join(await tempDir(t), 'outbox.json');
      await writeFile(path, text, 'utf8');
      const store = new FileOutboxStore(path);
      await assert.rejects(store.load(), (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.match(error.message, /outbox file .*outbox\.json is corrupt \(.+\); moved aside to .*outbox\.json\.corrupt; starting with an empty outbox/);
        return true;
      });
      assert.equal(await readFile(`${path}.corrupt`, 'utf8'), text, 'kept for inspection');
      assert.equal(await store.load(), undefined);
      await store.save(snapshot);
      assert.deepEqual(await store.load(), snapshot);
    });
  }

  test('two stores on one path in one process: their saves run one at a time, the last asked for wins, the file is never corrupt', async (t) => {
    const dir = await tempDir(t);
    const path = join(dir, 'outbox.json');
    const big: OutboxSnapshot = { session: 's-big', entries: Array.from({ length: 200 }, (_, n) => ({ kind: 'publish' as const, body: `{"type":"publish","channel":"c","data":${n}}`, id: n + 1 })) };
    const small: OutboxSnapshot = { session: 's-small', entries: [] };
    // Unserialized, the two writes interleaved in one temporary file: corrupt in 2 rounds of 3.
    for (let round = 0; round < 20; round++) {
      await Promise.all([new FileOutboxStore(path).save(big), new FileOutboxStore(path).save(small)]);
      assert.deepEqual(JSON.parse(await readFile(path, 'utf8')), small, `round ${round}`);
    }
    assert.deepEqual(await readdir(dir), ['outbox.json'], 'no temporary file left behind');
  });

  test('a path that cannot be read or written is reported with the reason', async (t) => {
    const dir = await tempDir(t);
    const aDirectory = join(dir, 'outbox.json');
    await mkdir(aDirectory);
    await assert.rejects(new FileOutboxStore(aDirectory).load(), /outbox file .* cannot be read \(.*EISDIR.*\); starting with an empty outbox/);
    const underAFile = join(dir, 'file');
    await writeFile(underAFile, 'x');
    await assert.rejects(new FileOutboxStore(join(underAFile, 'outbox.json')).save(snapshot), /outbox file .* could not be written \(.+\)/);
  });
});
