// Connection rate: two client processes open N connections, a bounded number at a time, each
// complete once it is up and in a channel, as an application needs it (Lifeline: hello with the
// subscribe right behind it, complete at `subscribed`, as LifelineClient sends them; Socket.IO:
// the namespace connect after the Engine.IO open, then the join's acknowledgement; ws and floor:
// the 101, the socket is in the set).
import type { Sizes } from '../options.js';
import { max } from '../stats.js';
import { checked, cpuOf, split, type RunContext, type Scenario } from './scenario.js';

/** The channel every connection joins as part of connecting. */
const CONNECT_CHANNEL = 'bench:connect';

export function connectScenario(sizes: Sizes): Scenario {
  const { connections, concurrency } = sizes.connect;
  return {
    key: 'connect',
    title: 'Connection rate',
    stacks: ['lifeline', 'ws', 'socketio', 'floor'],
    params: { connections, concurrency, clientProcesses: 2, join: CONNECT_CHANNEL },
    metrics: {
      perSec: { label: 'connections', unit: '/s', better: 'higher' },
      serverCpuUsPerConn: { label: 'server CPU per connection', unit: 'µs', better: 'lower' },
      clientCpuMs: { label: 'client CPU, run', unit: 'ms', better: 'lower' },
    },
    timeoutMs: 60_000 + connections * 20,
    async run(context: RunContext, stack: string) {
      const { child: server, port } = await context.server(stack);
      const clients = await context.clients(2);
      const counts = split(connections, 2);
      await context.waitQuiet();
      const serverBefore = await cpuOf([server]);
      const clientBefore = await cpuOf(clients.map((c) => c.child));
      const results = await Promise.all(
        clients.map(({ child, localAddress }, i) =>
          child.call<{ connected: number; failed: number; errors: string[]; startedAt: number; endedAt: number }>(
            'connect',
            { stack, port, join: CONNECT_CHANNEL, count: counts[i] ?? 0, concurrency: Math.max(1, Math.floor(concurrency / 2)), timeoutMs: 15_000, localAddress },
            60_000 + connections * 20,
          ),
        ),
      );
      const failed = results.reduce((n, r) => n + r.failed, 0);
      if (failed > 0) throw new Error(`${failed} connections failed: ${results.flatMap((r) => r.errors).join('; ')}`);
      const seconds = (max(results.map((r) => r.endedAt)) - Math.min(...results.map((r) => r.startedAt))) / 1000;
      return {
        perSec: checked('connection rate', connections / seconds),
        serverCpuUsPerConn: (((await cpuOf([server])) - serverBefore) * 1000) / connections,
        clientCpuMs: (await cpuOf(clients.map((c) => c.child))) - clientBefore,
      };
    },
  };
}
