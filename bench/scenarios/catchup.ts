// Catch-up: a client that missed 1,000 events gets them. Lifeline: `subscribe` with `since`
// replays them from the channel's history, then `subscribed`. ws and Socket.IO have no history:
// their rows are the app-written equivalent (a `replay` message answered from an array), for
// scale. Each repeat is a fresh connection; the time runs from the request to the last event.
import type { Sizes } from '../options.js';
import { median } from '../stats.js';
import { checked, cpuOf, type RunContext, type Scenario } from './scenario.js';

export function catchupScenario(sizes: Sizes): Scenario {
  const { events, repeats } = sizes.catchup;
  return {
    key: 'catchup',
    title: `Catch-up of ${events.toLocaleString('en-US')} missed events`,
    stacks: ['lifeline', 'ws', 'socketio'],
    params: { events, repeats, bodySize: 100 },
    metrics: {
      lastMs: { label: 'request to last event, p50', unit: 'ms', better: 'lower' },
      subscribedMs: { label: 'request to subscribed, p50', unit: 'ms', better: 'lower' },
      serverCpuMs: { label: `server CPU, ${repeats} catch-ups`, unit: 'ms', better: 'lower' },
      clientCpuMs: { label: `client CPU, ${repeats} catch-ups`, unit: 'ms', better: 'lower' },
    },
    timeoutMs: 60_000 + repeats * 10_000,
    async run(context: RunContext, stack: string) {
      const { child: server, port } = await context.server(stack);
      const { epoch } = await server.call<{ epoch: string }>('fillHistory', { events, bodySize: 100 });
      const [client] = await context.clients(1);
      if (!client) throw new Error('no client');
      await context.waitQuiet();
      const serverBefore = await cpuOf([server]);
      const clientBefore = await cpuOf([client.child]);
      const result = await client.child.call<{ lastMs: number[]; subscribedMs: number[] }>(
        'catchup',
        { stack, port, epoch, events, repeats, localAddress: client.localAddress },
        repeats * 12_000,
      );
      return {
        lastMs: checked('catch-up time', median(result.lastMs)),
        subscribedMs: checked('time to subscribed', median(result.subscribedMs)),
        serverCpuMs: (await cpuOf([server])) - serverBefore,
        clientCpuMs: (await cpuOf([client.child])) - clientBefore,
      };
    },
  };
}
