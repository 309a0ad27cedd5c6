// Idle memory per connection: the server's RSS and heap after a full GC, before and after N
// connections (Lifeline: each with a session and one subscription; Socket.IO: each in a room;
// ws: each in the Set; floor: each a net socket in a Set), divided by N.
import type { Sizes } from '../options.js';
import { subscribe } from './fanout-run.js';
import { checked, cpuOf, delay, split, type RunContext, type Scenario, type Usage } from './scenario.js';

export function idleScenario(sizes: Sizes): Scenario {
  const connections = sizes.idle.connections;
  return {
    key: 'idle',
    title: `Idle memory per connection at ${connections.toLocaleString('en-US')}`,
    stacks: ['lifeline', 'ws', 'socketio', 'floor'],
    params: { connections, clientProcesses: 2, gc: 'global.gc() twice before each reading (--expose-gc)' },
    metrics: {
      rssPerConnKB: { label: 'RSS per connection', unit: 'KB', better: 'lower' },
      heapPerConnKB: { label: 'heap per connection', unit: 'KB', better: 'lower' },
      rssMB: { label: 'server RSS, all connected', unit: 'MB', better: 'lower' },
      serverCpuMs: { label: 'server CPU, connecting', unit: 'ms', better: 'lower' },
      clientCpuMs: { label: 'client CPU, connecting', unit: 'ms', better: 'lower' },
    },
    timeoutMs: 60_000 + connections * 20,
    async run(context: RunContext, stack: string) {
      const node = await context.server(stack, { port: 0 }, { gc: true });
      await delay(200);
      const base = await node.child.call<Usage>('gc');
      const clients = await context.clients(2);
      const serverBefore = await cpuOf([node.child]);
      const clientBefore = await cpuOf(clients.map((c) => c.child));
      await subscribe({ stack, nodes: [node] }, clients, split(connections, 2), 'bench:idle');
      const serverCpuMs = (await cpuOf([node.child])) - serverBefore;
      const clientCpuMs = (await cpuOf(clients.map((c) => c.child))) - clientBefore;
      await delay(Math.min(1000, connections)); // let the last handshakes' garbage settle
      await context.waitQuiet();
      const after = await node.child.call<Usage>('gc');
      const open = (await node.child.call<Usage>('usage')).connections ?? 0;
      if (open !== connections) throw new Error(`the server holds ${open} connections, not ${connections}`);
      return {
        rssPerConnKB: checked('RSS per connection', (after.rss - base.rss) / connections / 1024),
        heapPerConnKB: checked('heap per connection', (after.heapUsed - base.heapUsed) / connections / 1024),
        rssMB: after.rss / 2 ** 20,
        serverCpuMs,
        clientCpuMs,
      };
    },
  };
}
