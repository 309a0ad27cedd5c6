/**
 * A test deployment (not a test file): Lifeline nodes as separate processes over one Redis,
 * and clients spread across them that move to another live node when theirs is gone, as they
 * would behind a load balancer.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { LifelineClient, ReplyError, type LifelineClientOptions } from '../../src/client/node.js';
import { killProcess, spawnTracked } from '../helpers/processes.js';
import { within } from '../helpers/wait.js';

const NODE_SCRIPT = fileURLToPath(new URL('./node.ts', import.meta.url));

export class NodeProcess {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #waiters: { readonly prefix: string; readonly resolve: (line: string) => void }[] = [];
  url = '';
  alive = true;
  /** Subscribes held by `hold` so far. */
  held = 0;

  private constructor(redisUrl: string, prefix: string) {
    this.#child = spawnTracked(process.execPath, ['--import', 'tsx', NODE_SCRIPT, redisUrl, prefix]);
    this.#child.stderr.on('data', (chunk: Buffer) => process.env.LIFELINE_NODE_LOG && process.stderr.write(chunk));
    this.#child.once('exit', () => (this.alive = false));
    createInterface({ input: this.#child.stdout }).on('line', (line) => {
      if (line.startsWith('held ')) this.held++;
      const index = this.#waiters.findIndex((waiter) => line.startsWith(waiter.prefix));
      if (index >= 0) this.#waiters.splice(index, 1)[0]?.resolve(line);
    });
  }

  static async start(redisUrl: string, prefix: string): Promise<NodeProcess> {
    const node = new NodeProcess(redisUrl, prefix);
    const line = await within(node.#next('listening '), 30_000, 'node listening').catch(async (error: unknown) => {
      await node.kill();
      throw error;
    });
    node.url = line.slice('listening '.length);
    return node;
  }

  #next(prefix: string): Promise<string> {
    return new Promise((resolve) => this.#waiters.push({ prefix, resolve }));
  }

  /** Publishes from this node's server side; resolves with the offset, or rejects with the error code. */
  async publish(channel: string, data: unknown): Promise<number> {
    const answer = Promise.race([this.#next('published '), this.#next('publish-failed ')]);
    this.#child.stdin.write(`publish ${channel} ${JSON.stringify(data)}\n`);
    const line = await within(answer, 10_000, 'node publish');
    if (line.startsWith('publish-failed')) throw new Error(line);
    return Number(line.split(' ')[3]);
  }

  async ready(): Promise<boolean> {
    return (await this.#status()).includes('ready=true');
  }

  /** Publish attempts the broker refused on this node (its server logged each). */
  async publishFailures(): Promise<number> {
    return Number(/publish-failures=(\d+)/.exec(await this.#status())?.[1] ?? 0);
  }

  async #status(): Promise<string> {
    const answer = this.#next('status ');
    this.#child.stdin.write('status\n');
    return within(answer, 5_000, 'node status');
  }

  /** The channel's history since `epoch`/0, as this node reads it. */
  async history(channel: string, epoch: string): Promise<{ readonly recovered: boolean; readonly events: readonly { readonly offset: number; readonly data: unknown }[] }> {
    const answer = Promise.race([this.#next('history '), this.#next('history-failed ')]);
    this.#child.stdin.write(`history ${channel} ${epoch}\n`);
    const line = await within(answer, 10_000, 'node history');
    if (line.startsWith('history-failed')) throw new Error(line);
    return JSON.parse(line.slice('history '.length)) as { recovered: boolean; events: { offset: number; data: unknown }[] };
  }

  /** Each subscribe to `channel` from now on waits until `release`. */
  async hold(channel: string): Promise<void> {
    await this.#command(`hold ${channel}`, 'holding');
  }

  /** The held subscribes go on; none is held any more. */
  async release(): Promise<void> {
    await this.#command('release', 'released ');
  }

  /** Cuts every connection of this node (no close frame): its clients reconnect and resubscribe. */
  async drop(): Promise<void> {
    await this.#command('drop', 'dropped ');
  }

  async #command(command: string, reply: string): Promise<string> {
    const answer = this.#next(reply);
    this.#child.stdin.write(`${command}\n`);
    return within(answer, 5_000, `node ${command}`);
  }

  /** SIGKILL: the process dies mid-stream, its sockets reset by the OS. */
  async kill(): Promise<void> {
    if (!this.alive) return;
    await killProcess(this.#child);
  }

  async stop(): Promise<void> {
    if (!this.alive) return;
    await killProcess(this.#child, 'SIGTERM', 10_000);
  }
}

export type Seen =
  | { readonly kind: 'event'; readonly channel: string; readonly epoch: string; readonly offset: number; readonly data: unknown }
  | { readonly kind: 'unrecovered'; readonly channel: string }
  | { readonly kind: 'retrying'; readonly channel: string; readonly code: string };

/** A client on a preferred node, moving to the next live one when that node is gone, subscribed to `channels`. */
export class Member {
  readonly client: LifelineClient;
  readonly seen: Seen[] = [];
  readonly sessions: { readonly id: string; readonly resumed: boolean }[] = [];
  readonly nodesUsed: number[] = [];
  /** Publishes of `publishSeries` that settled with an error, and whether the series has ended. */
  refused = 0;
  seriesDone = false;

  constructor(
    readonly index: number,
    nodes: readonly NodeProcess[],
    readonly channels: readonly string[],
    options: LifelineClientOptions = {},
  ) {
    this.client = new LifelineClient(
      () => {
        for (let i = 0; i < nodes.length; i++) {
          const at = (index + i) % nodes.length;
          const node = nodes[at];
          if (node?.alive) {
            this.nodesUsed.push(at);
            return node.url;
          }
        }
        return nodes[index % nodes.length]?.url ?? '';
      },
      { initialDelay: 20, maxDelay: 300, maxAttempts: Infinity, connectTimeout: 2_000, publishTimeout: 0, requestTimeout: 0, ...options },
    );
    this.client.addEventListener('session', (event) => this.sessions.push({ id: event.id, resumed: event.resumed }));
    for (const channel of channels) {
      this.client.subscribe(channel, {
        event: (event) => this.seen.push({ kind: 'event', channel, epoch: event.position.epoch, offset: event.position.offset, data: event.data }),
        subscribed: (event) => {
          if (!event.recovered) this.seen.push({ kind: 'unrecovered', channel });
        },
        retrying: (event) => this.seen.push({ kind: 'retrying', channel, code: event.error.code }),
      });
    }
  }

  /** What it saw on one channel (the first by default), in order. */
  journal(channel = this.channels[0]): Seen[] {
    return this.seen.filter((item) => item.channel === channel);
  }

  events(channel = this.channels[0]): Extract<Seen, { kind: 'event' }>[] {
    return this.journal(channel).filter((item): item is Extract<Seen, { kind: 'event' }> => item.kind === 'event');
  }

  /** Publishes `count` messages one after another; each settles with its offset or its error code. */
  async publishSeries(channel: string, count: number, tag: string): Promise<{ readonly n: number; readonly outcome: number | string }[]> {
    const outcomes: { n: number; outcome: number | string }[] = [];
    for (let n = 1; n <= count; n++) {
      try {
        const position = await within(this.client.publish(channel, { from: this.index, tag, n }), 20_000, `client ${this.index} publish ${n}`);
        outcomes.push({ n, outcome: position.offset });
      } catch (error) {
        this.refused++;
        outcomes.push({ n, outcome: error instanceof ReplyError ? error.code : String(error) });
      }
    }
    this.seriesDone = true;
    return outcomes;
  }
}

