/**
 * A private Redis Cluster for tests: three primaries and three replicas of `redis-server` on
 * loopback ports, their files in a temp dir, joined by `redis-cli --cluster create`. No
 * persistence. `stop()` kills every process and removes the dir; tests call it on every path.
 * Every wait is bounded: a node is started within 10 s, killed within 5 s, and each redis-cli
 * call ends within its timeout (it is killed then; no shell stands between, so nothing it
 * started outlives it). The processes are tracked (helpers/processes.ts): if the test file ends
 * without `stop()`, they are killed with it.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePorts } from './free-port.js';
import { killProcess, spawnTracked } from './processes.js';
import { eventually, within } from './wait.js';
import { redisServerSkip } from './redis-server.js';

const run = promisify(execFile);
const server = process.env.LIFELINE_REDIS_SERVER ?? 'redis-server';
const cli = process.env.LIFELINE_REDIS_CLI ?? 'redis-cli';

/** `skip` option: a reason when redis-server is missing (never on CI, where the tests then fail). */
export const redisClusterSkip = redisServerSkip;

export interface ClusterNode {
  readonly port: number;
  readonly address: string;
}

export class RedisCluster {
  readonly #processes = new Map<number, ChildProcess>();
  readonly #dir: string;
  readonly nodes: readonly ClusterNode[];

  private constructor(ports: readonly number[], readonly busPorts: readonly number[]) {
    this.#dir = mkdtempSync(join(tmpdir(), 'lifeline-cluster-'));
    this.nodes = ports.map((port) => ({ port, address: `127.0.0.1:${port}` }));
  }

  /** `host:port` of every node, as `--redis-cluster` takes them. */
  get seeds(): string[] {
    return this.nodes.map((node) => node.address);
  }

  /** Starts six nodes and joins them (three primaries, one replica each); resolves once the cluster is ok everywhere. */
  static async start(): Promise<RedisCluster> {
    const ports = await freePorts(12);
    const cluster = new RedisCluster(ports.slice(0, 6), ports.slice(6));
    try {
      await Promise.all(cluster.nodes.map((node, i) => cluster.#spawn(node.port, cluster.busPorts[i] ?? 0)));
      await within(run(cli, ['--cluster', 'create', ...cluster.seeds, '--cluster-replicas', '1', '--cluster-yes'], { timeout: 20_000 }), 25_000, 'redis-cli --cluster create');
      await cluster.settled();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  async #spawn(port: number, busPort: number): Promise<void> {
    const args = ['--port', String(port), '--cluster-port', String(busPort), '--bind', '127.0.0.1', '--protected-mode', 'no', '--dir', this.#dir];
    args.push('--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '1000', '--save', '', '--appendonly', 'no');
    // A replica takes over at once, however long it was cut off (tests make it lag on purpose).
    args.push('--cluster-replica-validity-factor', '0', '--enable-debug-command', 'yes');
    const child = spawnTracked(server, args);
    child.stdin.end();
    this.#processes.set(port, child);
    let output = '';
    const ready = new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`redis-server ${port} exited (${code}): ${output.slice(-500)}`)));
    });
    await within(ready, 10_000, `redis-server ${port} ready`);
  }

  /** One command through redis-cli to one node; its reply as text. */
  async command(port: number, ...args: string[]): Promise<string> {
    const { stdout } = await run(cli, ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 10_000 });
    return stdout.trim();
  }

  /** Ports of the nodes now serving as primaries (alive ones only). */
  async primaries(): Promise<number[]> {
    const alive = this.nodes.filter((node) => this.#processes.has(node.port));
    const roles = await Promise.all(alive.map(async (node) => ({ port: node.port, role: await this.command(node.port, 'ROLE').catch(() => '') })));
    return roles.filter((each) => each.role.startsWith('master')).map((each) => each.port);
  }

  /** A live node's port. */
  get anyPort(): number {
    const alive = this.nodes.find((node) => this.#processes.has(node.port));
    if (!alive) throw new Error('no node is running');
    return alive.port;
  }

  /** The port of the primary serving `key`'s slot, as a live node sees it. */
  async primaryOf(key: string): Promise<number> {
    const port = this.anyPort;
    const slot = Number(await this.command(port, 'CLUSTER', 'KEYSLOT', key));
    const nodes = await this.command(port, 'CLUSTER', 'NODES');
    for (const line of nodes.split('\n')) {
      const fields = line.split(' ');
      if (!fields[2]?.includes('master') || fields[2].includes('fail')) continue;
      for (const range of fields.slice(8)) {
        const [from, to] = range.split('-').map(Number);
        if (from !== undefined && slot >= from && slot <= (to ?? from)) return Number(/:(\d+)@/.exec(fields[1] ?? '')?.[1]);
      }
    }
    throw new Error(`no primary serves slot ${slot}`);
  }

  /** The slots a primary serves, lowest first. */
  async slotsOf(port: number): Promise<number[]> {
    const myself = (await this.command(port, 'CLUSTER', 'NODES')).split('\n').find((line) => line.includes('myself'));
    const slots: number[] = [];
    for (const range of myself?.split(' ').slice(8) ?? []) {
      if (range.startsWith('[')) continue;
      const [from, to] = range.split('-').map(Number);
      if (from === undefined) continue;
      for (let slot = from; slot <= (to ?? from); slot++) slots.push(slot);
    }
    return slots.sort((a, b) => a - b);
  }

  /** A name whose key (`keyOf(name)`) hashes into slots `from`..`to`, asking the cluster (bounded: 50 000 names). */
  async nameInSlots(keyOf: (name: string) => string, from: number, to: number): Promise<string> {
    const port = this.anyPort;
    for (let batch = 0; batch < 50; batch++) {
      const names = Array.from({ length: 1_000 }, (_, i) => `n${batch * 1_000 + i}`);
      const script = names.map((name) => `CLUSTER KEYSLOT ${JSON.stringify(keyOf(name))}`).join('\n');
      const asked = run(cli, ['-h', '127.0.0.1', '-p', String(port)], { timeout: 10_000, maxBuffer: 1 << 20 });
      asked.child.stdin?.end(`${script}\n`);
      const { stdout } = await asked;
      const slots = stdout.trim().split('\n').map(Number);
      const found = slots.findIndex((slot) => slot >= from && slot <= to);
      if (found >= 0 && names[found] !== undefined) return names[found];
    }
    throw new Error(`no name found in slots ${from}-${to}`);
  }

  /** Moves `count` slots (the lowest first) from one primary to another with `redis-cli --cluster reshard`. */
  async reshard(fromPort: number, toPort: number, count: number): Promise<void> {
    const [from, to] = await Promise.all([this.command(fromPort, 'CLUSTER', 'MYID'), this.command(toPort, 'CLUSTER', 'MYID')]);
    await run(cli, ['--cluster', 'reshard', `127.0.0.1:${fromPort}`, '--cluster-from', from, '--cluster-to', to, '--cluster-slots', String(count), '--cluster-yes'], { timeout: 30_000, maxBuffer: 16 << 20 });
  }

  /**
   * Moves one slot the way `redis-cli --cluster reshard` does, step by step: the target
   * imports it, the source migrates it, its keys are moved (MIGRATE, bounded: 100 rounds), then
   * `between()` runs while the keys live on the target but the source still owns the slot
   * (commands are redirected with ASK), and last every primary is told the target owns it.
   */
  async moveSlot(slot: number, fromPort: number, toPort: number, between: () => Promise<void>): Promise<void> {
    const [from, to] = await Promise.all([this.command(fromPort, 'CLUSTER', 'MYID'), this.command(toPort, 'CLUSTER', 'MYID')]);
    await this.command(toPort, 'CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', from);
    await this.command(fromPort, 'CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', to);
    for (let round = 0; round < 100; round++) {
      const keys = (await this.command(fromPort, 'CLUSTER', 'GETKEYSINSLOT', String(slot), '100')).split('\n').filter((key) => key !== '');
      if (keys.length === 0) break;
      await this.command(fromPort, 'MIGRATE', '127.0.0.1', String(toPort), '', '0', '5000', 'KEYS', ...keys);
    }
    await between();
    const others = (await this.primaries()).filter((port) => port !== fromPort && port !== toPort);
    for (const port of [toPort, fromPort, ...others]) await this.command(port, 'CLUSTER', 'SETSLOT', String(slot), 'NODE', to);
  }

  /** Starts every killed node again (it rejoins as a replica); resolves once the cluster is ok. */
  async restore(): Promise<void> {
    const dead = this.nodes.map((node, i) => ({ port: node.port, bus: this.busPorts[i] ?? 0 })).filter((node) => !this.#processes.has(node.port));
    await Promise.all(dead.map((node) => this.#spawn(node.port, node.bus)));
    await this.settled();
  }

  /** Resolves once every live node says `cluster_state:ok` and agrees on three primaries. */
  async settled(ms = 20_000): Promise<void> {
    await eventually(
      async () => {
        const alive = this.nodes.filter((node) => this.#processes.has(node.port));
        const states = await Promise.all(alive.map((node) => this.command(node.port, 'CLUSTER', 'INFO').catch(() => '')));
        return states.every((info) => info.includes('cluster_state:ok')) && (await this.primaries()).length === 3;
      },
      'the Redis Cluster to settle',
      ms,
    );
  }

  /** SIGKILLs one node (paused or not); resolves once it is gone, rejects if it is not within 5 s. */
  async kill(port: number): Promise<void> {
    const child = this.#processes.get(port);
    if (!child) return;
    this.#processes.delete(port);
    await killProcess(child);
  }

  /** SIGSTOPs one node: its connections stay open and nothing is answered (a hung node) until {@link resume}. */
  pause(port: number): void {
    this.#signal(port, 'SIGSTOP');
  }

  resume(port: number): void {
    this.#signal(port, 'SIGCONT');
  }

  #signal(port: number, signal: NodeJS.Signals): void {
    const child = this.#processes.get(port);
    if (!child?.kill(signal)) throw new Error(`redis-server ${port} is not running`);
  }

  /** Kills every node and removes the temp dir, whatever fails; then rejects if a node outlived its SIGKILL. */
  async stop(): Promise<void> {
    const killed = await Promise.allSettled([...this.#processes.keys()].map((port) => this.kill(port)));
    rmSync(this.#dir, { recursive: true, force: true });
    const failed = killed.find((each) => each.status === 'rejected');
    if (failed) throw failed.reason;
  }
}
