import { DurableOutboxStore, type DurableOutbox } from './durable-outbox.js';
import type { OutboxSnapshot } from './outbox-store.js';
import { outboxSnapshot } from './outbox-snapshot.js';

type Fs = typeof import('node:fs/promises');

/**
 * Node's `fs`, loaded on first use. Not a static import: `lifeline/client`'s Node entry re-exports
 * this store, and a bundler building that entry for a browser (as test/browser/bundle.test.ts
 * does, to check it is flagged) must still be able to resolve it.
 */
const FS = 'node:fs/promises';
let fsModule: Promise<Fs> | undefined;
const loadFs = (): Promise<Fs> => (fsModule ??= import(FS) as Promise<Fs>);

/** Per path (as given), the last load or save of any store on it in this process: each waits for the one before (it never rejects). */
const turns = new Map<string, Promise<void>>();
/** Per path, the durable outbox of the last client on it (weakly: one that is gone has nothing left to save). */
const owners = new Map<string, WeakRef<DurableOutbox>>();
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
 * time, and a new client's load waits until the last client on the path (closed or not) has
 * finished every save it asked for, so a client made right after `close()` resumes what it left.
 * One process at a time may own a path: nothing locks the file against another process.
 *
 * @example
 * const client = new LifelineClient(url, { outbox: new FileOutboxStore('./data/outbox.json') });
 */
export class FileOutboxStore extends DurableOutboxStore {
  constructor(readonly path: string) {
    super();
  }

  /** Starts the durable outbox of a client (called by the client, not by apps); it becomes the path's last client. */
  override attach(...host: Parameters<DurableOutboxStore['attach']>): DurableOutbox {
    const outbox = super.attach(...host);
    owners.set(this.path, new WeakRef(outbox));
    return outbox;
  }

  /**
   * Resolves once the last client on this path has finished every save it asked for (after its
   * `close()`, the one that keeps what was unanswered) and every write on the path has landed:
   * await it before the process exits.
   */
  async idle(): Promise<void> {
    await owners.get(this.path)?.deref()?.idle;
    await inTurn(this.path, async () => undefined);
  }

  load(): Promise<OutboxSnapshot | undefined> {
    // Read now, before attach() makes this store's own client the path's last.
    const previous = owners.get(this.path)?.deref()?.idle;
    return Promise.resolve(previous).then(() => inTurn(this.path, () => this.#read()));
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
    const { readdir, rm } = await loadFs();
    const parent = parentOf(this.path);
    const base = this.path.slice(parent.length);
    const names = await readdir(parent || '.').catch(() => [] as string[]);
    for (const name of names) {
      if (!name.startsWith(`${base}.`)) continue;
      const pid = /^\.(\d+)(?:\.\d+)?\.tmp$/.exec(name.slice(base.length))?.[1];
      if (pid !== undefined && !running(Number(pid))) await rm(parent + name, { force: true }).catch(() => undefined);
    }
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

/** The directory part of `path`, with its trailing separator ('' for a bare file name). */
const parentOf = (path: string): string => path.replace(/[^/\\]*$/, '');

/** Corrupt files moved aside and kept at most, per path. */
const MAX_CORRUPT_COPIES = 100;

/** Whether another process with this id is running (this process's own id counts as not). */
function running(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The file's content, checked field by field: anything else is corrupt. */
function parseSnapshot(text: string): OutboxSnapshot {
  return outboxSnapshot(JSON.parse(text));
}
