import { LifelineError } from '../core/errors.js';
import { loadFs, loadFsSync, parentOf, type Fs } from './node-fs.js';
import { pidFiles, running } from './pid-files.js';

/** This life of the module: tells its own lock files from those of another thread or copy of it, or of an earlier process with the same pid. */
const LIFE = crypto.randomUUID();
/**
 * When the process began (the same in each of its threads): a lock file of another life with
 * this pid and this start is of another thread, or another copy of this module, of this running
 * process; with another start, of an earlier process that had this pid.
 */
const STARTED = performance.timeOrigin;
/** The locks this process holds, by number. */
const held = new Map<number, OutboxLock>();
let numbered = 0;
/** The last try at a lock in the process, of any path: they run one at a time (it never rejects). */
let trying: Promise<unknown> = Promise.resolve();
/** The synchronous unlink, loaded with the first lock, for the 'exit' hook. */
let unlinkSync: ((file: string) => void) | undefined;

/** Removes the lock files still held when the process exits normally (a crash leaves them: the next one takes them over). */
function releaseAtExit(): void {
  for (const lock of held.values()) {
    try {
      if (lock.file) unlinkSync?.(lock.file);
    } catch {
      // gone already, or the directory went: nothing to release
    }
  }
}

/** What the lock file of a lock of this process holds. */
interface LockRecord {
  readonly pid: number;
  readonly started: number;
  readonly life: string;
  readonly lock: number;
}

/**
 * The lock a client holds on a {@link FileOutboxStore}'s path from its start until its close:
 * the file `<path>.<pid>.lock` (its pid in the name, so that a lock left by a process no longer
 * running is found as a save's temporary files are). Taking it makes that file (exclusively,
 * within the process), then looks at every other lock of the path: one of a running process
 * refuses this one (its own file is removed again), one of a process that ended is removed. Two
 * processes taking it at the same instant may both be refused; two can never both hold it. Within
 * the process, a lock whose client has closed is waited for (its last saves), one whose client
 * has not is refused; the tries run one at a time, whatever the path's spelling. One of another
 * thread (or another copy of this module) of the process is refused too: the file names the
 * process's start, which tells it from one an earlier process with this pid left.
 */
export class OutboxLock {
  /** Resolves once the lock is held; rejects with `ERR_OUTBOX_LOCKED` (or why it could not be made). */
  readonly taken: Promise<void>;
  /** Its lock file once taken. */
  file: string | undefined;
  readonly #number = ++numbered;
  #released: Promise<void> | undefined;

  constructor(readonly path: string) {
    // Its tries run alone in the process (see #attempt); a wait for a closed holder's last save
    // runs outside them, so a save that hangs holds up new clients of its own path only.
    this.taken = this.#take();
  }

  /** The client closed: the lock is removed once `done` (its last saves) has settled. Resolves once removed. */
  release(done: Promise<void>): Promise<void> {
    return (this.#released ??= Promise.all([done, this.taken]).then(
      () => this.#remove(),
      () => undefined, // never taken: nothing to remove
    ));
  }

  /** Once {@link release} was called: resolves once the lock is gone. */
  get released(): Promise<void> | undefined {
    return this.#released;
  }

  async #take(): Promise<void> {
    const fs = await loadFs();
    unlinkSync ??= (await loadFsSync()).unlinkSync;
    const file = `${this.path}.${process.pid}.lock`;
    const record = JSON.stringify({ pid: process.pid, started: STARTED, life: LIFE, lock: this.#number } satisfies LockRecord);
    // Each turn waits for a closed client of this process to let go: one that has is no longer
    // held, and none is taken meanwhile (they take turns), so there are at most as many turns.
    const holders = held.size;
    for (let turn = 0; ; turn++) {
      const closing = await alone(() => this.#attempt(fs, file, record, turn >= holders));
      if (!closing) return;
      await closing.released;
    }
  }

  /**
   * One try at the lock, alone in the process (whatever the path: two spellings of one path
   * name one lock file, and two tries at once could both take over a file an earlier life left):
   * nothing once it is held, or the closed client of this process to wait for (outside, so that
   * its last save holds up its own path only).
   */
  async #attempt(fs: Fs, file: string, record: string, last: boolean): Promise<{ readonly released: Promise<void> } | undefined> {
    const { mkdir, readFile, rm, writeFile } = fs;
    try {
      await mkdir(parentOf(this.path) || '.', { recursive: true });
      if (!(await makeNew(writeFile, file, record))) {
        const holder = holderOf(await readFile(file, 'utf8').catch(() => ''));
        if (holder === 'elsewhere') throw locked(this.path, `another thread of this process, or another copy of lifeline in it, has it open (its lock: ${file})`);
        const released = holder?.released;
        if (holder && !released) throw locked(this.path, 'another client in this process has it open (close that client first)');
        if (released && !last) return { released };
        // Left by an earlier life of this pid (or a lock whose removal failed): take it over.
        await writeFile(file, record);
      }
    } catch (error) {
      if (error instanceof LifelineError) throw error;
      throw new Error(`outbox file ${this.path} cannot be locked (${(error as Error).message}); this client keeps its outbox in memory`, { cause: error });
    }
    const others = (await pidFiles(this.path, 'lock')).filter((other) => other.pid !== process.pid);
    const holder = others.find((other) => running(other.pid));
    if (holder) {
      await rm(file, { force: true }).catch(() => undefined);
      throw locked(this.path, `process ${holder.pid} has it open (its lock: ${holder.file}; remove that file only if no process ${holder.pid} uses the outbox)`);
    }
    // Left by processes that ended without letting go (a crash, a kill).
    for (const other of others) await rm(other.file, { force: true }).catch(() => undefined);
    this.file = file;
    if (held.size === 0) process.on('exit', releaseAtExit);
    held.set(this.#number, this);
    return undefined;
  }

  async #remove(): Promise<void> {
    const file = this.file;
    this.file = undefined;
    held.delete(this.#number);
    if (held.size === 0) process.off('exit', releaseAtExit);
    if (file) await (await loadFs()).rm(file, { force: true }).catch(() => undefined);
  }
}

/** Runs `attempt` once the tries before it have ended. */
function alone<T>(attempt: () => Promise<T>): Promise<T> {
  const result = trying.then(attempt);
  trying = result.catch(() => undefined);
  return result;
}

/** Makes `file` holding `text` unless it exists: whether it did. */
function makeNew(writeFile: (file: string, text: string, options: { flag: string }) => Promise<void>, file: string, text: string): Promise<boolean> {
  return writeFile(file, text, { flag: 'wx' }).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'EEXIST') return false;
      throw error;
    },
  );
}

/**
 * Who holds a lock file of this pid: the lock of this life it names, if that still holds it;
 * `elsewhere`, another thread or copy of the module in this process; none (an earlier process
 * with this pid left it, or it cannot be read).
 */
function holderOf(text: string): OutboxLock | 'elsewhere' | undefined {
  try {
    const record = JSON.parse(text) as Partial<LockRecord> | null;
    if (record?.life === LIFE) return typeof record.lock === 'number' ? held.get(record.lock) : undefined;
    return record?.pid === process.pid && record.started === STARTED ? 'elsewhere' : undefined;
  } catch {
    return undefined;
  }
}

function locked(path: string, who: string): LifelineError {
  return new LifelineError('ERR_OUTBOX_LOCKED', `outbox file ${path} is in use: ${who}; this client keeps its outbox in memory`);
}
