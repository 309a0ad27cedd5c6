// Idle memory per connection: the server's RSS and heap after a full GC, before and after N
// connections (Lifeline: each with a session and one subscription; Socket.IO: each in a room;
// ws: each in the Set; floor: each a net socket in a Set), divided by N.
//
// Both readings come SETTLE_MS after the server last allocated in bulk (its start-up, the
// connection storm): V8 gives back the young generation a busy spell grew (up to 32 MB) only at a
// collection whose allocation rate over its last 5 s is low. Read sooner, RSS per connection
// counted those pages or not from round to round (3 KB per connection at 10,000), and the base
// reading counted the start-up's (about 7 MB, -0.75 KB per connection for every stack). A
// server's own periodic work does the same (Lifeline's keepalive sweep, every 25 s, allocates
// about 2.4 KB per connection): `young generation` says when a reading still holds it, and
// `RSS per connection, young generation left out` compares the stacks without it (a raw ws server
// that never collects again keeps the 25 MB its connection storm grew: 2.5 KB per connection of
// pages that are no connection's state). The target reads that one.
import type { Sizes } from '../options.js';
import { subscribe } from './fanout-run.js';
import { checked, cpuOf, delay, split, type RunContext, type Scenario, type Usage } from './scenario.js';

/** Past V8's 5 s window of allocation rate, so that a full collection shrinks the young generation. */
const SETTLE_MS = 6_000;

export function idleScenario(sizes: Sizes): Scenario {
  const connections = sizes.idle.connections;
  return {
    key: 'idle',
    title: `Idle memory per connection at ${connections.toLocaleString('en-US')}`,
    stacks: ['lifeline', 'ws', 'socketio', 'floor'],
    params: { connections, clientProcesses: 2, gc: 'global.gc() twice before each reading (--expose-gc)' },
    metrics: {
      rssPerConnKB: { label: 'RSS per connection', unit: 'KB', better: 'lower' },
      rssSettledPerConnKB: { label: 'RSS per connection, young generation left out', unit: 'KB', better: 'lower' },
      heapPerConnKB: { label: 'heap per connection', unit: 'KB', better: 'lower' },
      oldFreePerConnKB: { label: 'old-space free per connection', unit: 'KB', better: 'lower', signed: true },
      outsideHeapPerConnKB: { label: 'RSS outside the heap per connection', unit: 'KB', better: 'lower', signed: true },
      youngMB: { label: 'young generation, all connected', unit: 'MB', better: 'lower', zeroOk: true },
      rssMB: { label: 'server RSS, all connected', unit: 'MB', better: 'lower' },
      serverCpuMs: { label: 'server CPU, connecting', unit: 'ms', better: 'lower' },
      clientCpuMs: { label: 'client CPU, connecting', unit: 'ms', better: 'lower' },
    },
    timeoutMs: 60_000 + 2 * SETTLE_MS + connections * 20,
    async run(context: RunContext, stack: string) {
      const node = await context.server(stack, { port: 0 }, { gc: true });
      await delay(SETTLE_MS);
      const base = await node.child.call<Usage>('gc');
      const clients = await context.clients(2);
      const serverBefore = await cpuOf([node.child]);
      const clientBefore = await cpuOf(clients.map((c) => c.child));
      await subscribe({ stack, nodes: [node] }, clients, split(connections, 2), 'bench:idle');
      const serverCpuMs = (await cpuOf([node.child])) - serverBefore;
      const clientCpuMs = (await cpuOf(clients.map((c) => c.child))) - clientBefore;
      await delay(SETTLE_MS); // the last handshakes' garbage, and the young generation they grew
      await context.waitQuiet();
      const after = await node.child.call<Usage>('gc');
      const open = (await node.child.call<Usage>('usage')).connections ?? 0;
      if (open !== connections) throw new Error(`the server holds ${open} connections, not ${connections}`);
      return {
        rssPerConnKB: checked('RSS per connection', (after.rss - base.rss) / connections / 1024),
        rssSettledPerConnKB: checked('RSS per connection without the young generation', (after.rss - (after.young ?? 0) - (base.rss - (base.young ?? 0))) / connections / 1024),
        heapPerConnKB: checked('heap per connection', (after.heapUsed - base.heapUsed) / connections / 1024),
        // Where RSS goes beyond the heap in use: free space V8 keeps in old-space pages (objects
        // that were promoted, then died), and what is not V8's heap at all (sockets, buffers, malloc).
        oldFreePerConnKB: ((after.oldFree ?? 0) - (base.oldFree ?? 0)) / connections / 1024,
        outsideHeapPerConnKB: (after.rss - (after.heapResident ?? 0) - (base.rss - (base.heapResident ?? 0))) / connections / 1024,
        youngMB: (after.young ?? 0) / 2 ** 20,
        rssMB: after.rss / 2 ** 20,
        serverCpuMs,
        clientCpuMs,
      };
    },
  };
}
