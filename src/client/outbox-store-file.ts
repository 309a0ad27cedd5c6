import { DurableOutbox, DurableOutboxStore } from './durable-outbox.js';
import { loadFs, parentOf } from './node-fs.js';
import { OutboxLock } from './outbox-lock.js';
import type { OutboxSnapshot } from './outbox-store.js';
import { outboxSnapshot } from './outbox-snapshot.js';
import { pidFiles, running } from './pid-files.js';

/** Per path (as given), the last load or save of any store on it in this process: each waits for the one before (it never rejects). */
const turns = new Map<string, Promise<void>>();
/** Per path, the durable outbox of the last client on it (weakly: one that is gone has nothing left to save). */
const owners = new Map<string, WeakRef<LockedOutbox>>();
/** Makes each temporary file's name unique within the process. */
let writes = 0;

/** Runs `run` once every load and save before it on `path` has ended. */
function inTurn<T>(path: string, run: () => Promise<T>): Promise<T> {
  const result = (turns.get(path) ?? Promise.resolve()).then(run);
  const done = result.then(
    () => undefined,
    () => undefined,
  );
  turns.set(path, done);
  void done.then(() => turns.get(path) === done && turns.delete(path));
  return result;
}

/**
 * A durable outbox in one JSON file, for Node: unanswered publishes and requests survive a
 * process restart. Every save is atomic: the snapshot goes to a temporary file next to `path`,
 * flushed to disk, then renamed over it, so a crash leaves the old file or the new one, never half
 * of one. A missing file is an empty outbox. A file that cannot be read, or is not an outbox, makes
 * `load()` reject with a message saying so (the client reports it as an `error` event and starts
 * with an empty outbox); a corrupt file is first moved aside to `<path>.corrupt` for inspection
 * (`<path>.corrupt.1`, ... if an earlier copy is there). A load removes the temporary files that
 * saves of a process no longer running left behind.
 * Within a process, loads and saves of every store on one path (spelled the same way) run one at a
 * time.
 *
 * A client holds the path from its start until its `close()`: its store takes the lock file
 * `<path>.<pid>.lock` before it loads. A second client on the path, in this process or in another
 * one, is refused: an `error` event with a `LifelineError` of code `ERR_OUTBOX_LOCKED`, and that
 * client keeps its outbox in memory (it neither loads nor saves the file). A client made in this
 * process after the holder's `close()` waits for its last save, then takes the lock and resumes
 * what it left. The lock goes when the client has closed and saved, or when the process exits;
 * one left by a process that is no longer running (a crash, a kill) is taken over. `load()` and
 * `save()` called directly (not by a client) take no lock.
 *
 * @example
 * const client = new LifelineClient(url, { outbox: new FileOutboxStore('./data/outbox.json') });
 */
export class FileOutboxStore extends DurableOutboxStore {
  constructor(readonly path: string) {
    super();
  }

  /**
   * Starts the durable outbox of a client (called by the client, not by apps): it takes the
   * path's lock before it loads, and becomes the path's last client.
   */
  override attach(...host: Parameters<DurableOutboxStore['attach']>): DurableOutbox {
    const lock = new OutboxLock(this.path);
    const store = {
      load: () => lock.taken.then(() => this.load()),
      // Refused, the client saves nothing: the file is the other client's.
      save: (snapshot: OutboxSnapshot) => lock.taken.then(() => this.save(snapshot), () => undefined),
    };
    const outbox = new LockedOutbox(lock, store, ...host);
    const before = owners.get(this.path);
    owners.set(this.path, new WeakRef(outbox));
    // Refused, it is no client of the path: the last one is still the one before it.
    lock.taken.catch(() => {
      if (owners.get(this.path)?.deref() !== outbox) return;
      if (before) owners.set(this.path, before);
      else owners.delete(this.path);
    });
    return outbox;
  }

  /**
   * Resolves once the last client on this path has finished every save it asked for (after its
   * `close()`, the one that keeps what was unanswered, and then its lock is gone) and every write
   * on the path has landed: await it before the process exits.
   */
  async idle(): Promise<void> {
    // Once it has the lock, or was refused it (and handed the path back to the one before it).
    await owners.get(this.path)?.deref()?.lock.taken.catch(() => undefined);
    const last = owners.get(this.path)?.deref();
    await last?.idle;
    await last?.lock.released;
    await inTurn(this.path, async () => undefined);
  }

  load(): Promise<OutboxSnapshot | undefined> {
    return inTurn(this.path, () => this.#read());
  }

  save(snapshot: OutboxSnapshot): Promise<void> {
    return inTurn(this.path, () => this.#write(snapshot));
  }

  async #read(): Promise<OutboxSnapshot | undefined> {
    const { readFile } = await loadFs();
    await this.#sweepTemporaries();
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new Error(`outbox file ${this.path} cannot be read (${(error as Error).message}); starting with an empty outbox`, { cause: error });
    }
    try {
      return parseSnapshot(text);
    } catch (error) {
      const aside = await this.#asideName();
      const moved = await (await loadFs()).rename(this.path, aside).then(
        () => `moved aside to ${aside}`,
        () => 'left in place',
      );
      throw new Error(`outbox file ${this.path} is corrupt (${(error as Error).message}); ${moved}; starting with an empty outbox`, { cause: error });
    }
  }

  /**
   * Where a corrupt file goes: `<path>.corrupt`, or `<path>.corrupt.N` (the lowest N free) when
   * an earlier one is still there, so no copy kept for inspection is overwritten (up to
   * {@link MAX_CORRUPT_COPIES}; past them the last name is reused).
   */
  async #asideName(): Promise<string> {
    const { access } = await loadFs();
    let name = `${this.path}.corrupt`;
    for (let n = 1; n <= MAX_CORRUPT_COPIES; n++) {
      if (await access(name).then(() => false, () => true)) return name;
      name = `${this.path}.corrupt.${n}`;
    }
    return name;
  }

  /**
   * Removes the temporary files a save of a process that ended mid-write left next to the file
   * (`<path>.<pid>.<n>.tmp`): those of a process no longer running, and this process's own (no
   * save of this process is in progress on the path while it loads: they take turns; a container
   * restarted under the same pid finds its last life's). A running process's are left alone.
   */
  async #sweepTemporaries(): Promise<void> {
    const { rm } = await loadFs();
    for (const { file, pid } of await pidFiles(this.path, 'tmp')) if (!running(pid)) await rm(file, { force: true }).catch(() => undefined);
  }

  async #write(snapshot: OutboxSnapshot): Promise<void> {
    const { mkdir, open, rename, rm } = await loadFs();
    const temp = `${this.path}.${process.pid}.${++writes}.tmp`;
    const directory = parentOf(this.path) || '.';
    try {
      await mkdir(directory, { recursive: true });
      const file = await open(temp, 'w');
      try {
        await file.writeFile(JSON.stringify(snapshot), 'utf8');
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(temp, this.path);
    } catch (error) {
      await rm(temp, { force: true }).catch(() => undefined);
      throw new Error(`outbox file ${this.path} could not be written (${(error as Error).message})`, { cause: error });
    }
    // The rename is durable once its directory is flushed (POSIX); where a directory cannot be
    // opened or flushed (Windows), the rename is all there is.
    const dir = await open(directory, 'r').catch(() => undefined);
    await dir?.sync().catch(() => undefined);
    await dir?.close().catch(() => undefined);
  }
}

/** Corrupt files moved aside and kept at most, per path. */
const MAX_CORRUPT_COPIES = 100;

/** A client's durable outbox on a file: its lock goes once the client has closed and its last save has ended. */
class LockedOutbox extends DurableOutbox {
  constructor(
    readonly lock: OutboxLock,
    ...outbox: ConstructorParameters<typeof DurableOutbox>
  ) {
    super(...outbox);
  }

  override close(): void {
    super.close();
    void this.lock.release(this.idle);
  }
}

/** The file's content, checked field by field: anything else is corrupt. */
function parseSnapshot(text: string): OutboxSnapshot {
  return outboxSnapshot(JSON.parse(text));
}
