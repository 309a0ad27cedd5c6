// Pinning benchmark processes to CPUs. On a 2-core machine the scheduler sometimes puts a server
// and its one client on the same core, and a one-client round trip then reads about twice as
// long (docs/benchmarks.md, "The one-client round trip is bimodal"); a scenario that measures
// one client's latency pins the server to one CPU and the client to another instead.
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

let found: boolean | undefined;

/** Whether processes can be pinned here: `taskset` runs and there are at least 2 CPUs. */
export function canPin(): boolean {
  found ??= availableParallelism() >= 2 && spawnSync('taskset', ['-c', '0', 'true']).status === 0;
  return found;
}

/** The command and arguments that run `command` pinned to `cpu` (or as it is, without one). */
export function pinned(cpu: number | undefined, command: string, args: readonly string[]): { readonly command: string; readonly args: readonly string[] } {
  return cpu === undefined ? { command, args } : { command: 'taskset', args: ['-c', String(cpu), command, ...args] };
}
