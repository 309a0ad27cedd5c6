// What the results were measured on: CPU, memory, kernel, Node and the libraries compared, and
// the limits that bound the connection counts.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

function version(pkg: string): string {
  try {
    return (JSON.parse(readFileSync(`${root}node_modules/${pkg}/package.json`, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** The soft and hard limits on open files (`ulimit -n`), from /proc/self/limits. */
export function fileLimit(): { readonly soft: number; readonly hard: number } | undefined {
  try {
    const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (!match) return undefined;
    const value = (s: string | undefined): number => (s === 'unlimited' ? Infinity : Number(s));
    return { soft: value(match[1]), hard: value(match[2]) };
  } catch {
    return undefined;
  }
}

function sysctl(name: string): string | undefined {
  try {
    return readFileSync(`/proc/sys/${name.replaceAll('.', '/')}`, 'utf8').trim().replace(/\s+/g, ' ');
  } catch {
    return undefined;
  }
}

export function machine(): Record<string, unknown> {
  const cores = cpus();
  return {
    cpu: cores[0]?.model ?? 'unknown',
    cores: cores.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    loadavg: loadavg().map((n) => Math.round(n * 100) / 100),
    node: process.version,
    versions: { ws: version('ws'), 'socket.io': version('socket.io'), 'engine.io': version('engine.io'), 'socket.io-client': version('socket.io-client') },
    openFiles: fileLimit(),
    portRange: sysctl('net.ipv4.ip_local_port_range'),
    somaxconn: sysctl('net.core.somaxconn'),
  };
}

/** The commit measured, and whether src/ had uncommitted changes then. */
export function sourceState(): { readonly commit: string; readonly srcDirty: boolean } | undefined {
  const git = (...args: string[]): string | undefined => {
    const result = spawnSync('git', args, { cwd: root, encoding: 'utf8' });
    return result.status === 0 ? result.stdout.trim() : undefined;
  };
  const commit = git('rev-parse', 'HEAD');
  const status = git('status', '--porcelain', '--', 'src');
  return commit === undefined || status === undefined ? undefined : { commit, srcDirty: status !== '' };
}
