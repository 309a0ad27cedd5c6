/**
 * Every process a test spawns goes through `spawnTracked`, so none outlives its test file: a
 * helper kills its child on its own paths (success, failure, timeout), `killAll` ends whatever
 * is left (for a file's `after`), and if the file's process exits first (or is sent SIGTERM, as
 * the test runner does to a file past its timeout), its 'exit' hook sends SIGKILL to the rest.
 * scripts/run-tests.mjs then checks that nothing the suite started is alive.
 */
import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams, type SpawnOptionsWithoutStdio } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const running = new Set<ChildProcess>();

function gone(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

process.once('exit', () => {
  for (const child of running) if (!gone(child)) child.kill('SIGKILL');
});
// The test runner ends a file that outlives its timeout with SIGTERM, which would skip the hook
// above and leave the children running: exit instead, so it runs.
process.once('SIGTERM', () => process.exit(143));

/**
 * Where scripts/run-tests.mjs finds the processes of its run besides their environment's mark: a
 * process that writes its title over its environment (redis-server does) no longer shows the mark.
 * One line per child: its pid and its start time (so a reused pid is not taken for it).
 */
const registry = process.env.LIFELINE_TEST_RUN ? join(tmpdir(), `lifeline-test-run-${process.env.LIFELINE_TEST_RUN}.pids`) : undefined;

function register(pid: number | undefined): void {
  if (registry === undefined || pid === undefined || process.platform !== 'linux') return;
  try {
    // Field 22 of /proc/<pid>/stat, counted after the command's closing parenthesis.
    const started = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[19];
    if (started !== undefined) appendFileSync(registry, `${pid} ${started}\n`);
  } catch {
    // gone already: nothing to look for later
  }
}

/** Starts `command` like `spawn` (stdio piped) and tracks the child until it has exited. */
export function spawnTracked(command: string, args: readonly string[], options: SpawnOptionsWithoutStdio = {}): ChildProcessWithoutNullStreams {
  const child = spawn(command, args, options);
  register(child.pid);
  running.add(child);
  child.once('exit', () => running.delete(child));
  child.once('error', () => running.delete(child));
  return child;
}

/** Sends `signal` (SIGKILL by default) unless it has exited; resolves once it has, or after `ms`. */
export async function killProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL', ms = 5_000): Promise<void> {
  if (gone(child)) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), ms)));
  const outcome = await Promise.race([exited.then(() => 'exited' as const), late]).finally(() => clearTimeout(timer));
  if (outcome === 'late' && signal !== 'SIGKILL') await killProcess(child, 'SIGKILL', ms);
  else if (outcome === 'late') throw new Error(`process ${child.pid} did not exit within ${ms} ms of SIGKILL`);
}

/** Kills every tracked child still running (for a file's `after`). */
export async function killAll(): Promise<void> {
  await Promise.all([...running].map((child) => killProcess(child)));
}

/** How many tracked children are alive (for tests of the helpers themselves). */
export function trackedCount(): number {
  return running.size;
}
