import { loadFs, parentOf } from './node-fs.js';

/** A file next to another that names the process that made it: `<path>.<pid>.<suffix>` or `<path>.<pid>.<n>.<suffix>`. */
export interface PidFile {
  /** Its path (the directory spelled as in the other's path). */
  readonly file: string;
  readonly pid: number;
}

/**
 * What follows `<path>` in the name of each kind of file, the process's id first: a client's lock
 * is `.<pid>.lock` and nothing else, so that the lock of another path named as this one plus a
 * number (`<path>.<n>.<pid>.lock`) never reads as one of process `<n>` (to refuse, or remove, as
 * left behind); a save's temporary file is `.<pid>.<n>.tmp` (`.<pid>.tmp` in the first versions).
 */
const SHAPES = { lock: /^\.(\d+)\.lock$/, tmp: /^\.(\d+)(?:\.\d+)?\.tmp$/ } as const;

/**
 * The files next to `path` that a process made for it, named after their process's id (a
 * save's temporary files, a client's lock): whoever finds one of a process that is no longer
 * {@link running} knows it was left behind.
 */
export async function pidFiles(path: string, kind: keyof typeof SHAPES): Promise<PidFile[]> {
  const { readdir } = await loadFs();
  const parent = parentOf(path);
  const base = path.slice(parent.length);
  const pattern = SHAPES[kind];
  const found: PidFile[] = [];
  for (const name of await readdir(parent || '.').catch(() => [] as string[])) {
    const pid = name.startsWith(`${base}.`) ? pattern.exec(name.slice(base.length))?.[1] : undefined;
    if (pid !== undefined) found.push({ file: parent + name, pid: Number(pid) });
  }
  return found;
}

/**
 * Whether another process with this id is running (this process's own id counts as not: a file
 * of it that this process does not know of was left by an earlier life under the same id, a
 * container restarted, say). An id is only a hint: a process that ended long ago may have passed
 * it on, and processes in other pid namespaces (containers sharing a volume) are not seen.
 */
export function running(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
