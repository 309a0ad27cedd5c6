// Channel fan-out: one publisher inside the server process (Lifeline: `server.publish`, ws:
// the naive loop over a Set, Socket.IO: `io.to(room).emit`, floor: one pre-built frame written
// to every net socket) and N subscribers on real sockets, spread over two client processes.
// The publisher yields to the event loop after each event (`paced`, as a publisher fed by I/O
// does), or runs every event in one synchronous loop (`burst`, keyed `fanout-N-burst`), which
// measures how a stack coalesces writes more than what an event costs.
import type { Sizes } from '../options.js';
import { measureFanout } from './fanout-run.js';
import type { RunContext, Scenario } from './scenario.js';

export function fanoutScenario(sizes: Sizes, subscribers: number, mode: 'burst' | 'paced'): Scenario {
  const fanout = sizes.fanout;
  return {
    key: mode === 'paced' ? `fanout-${subscribers}` : `fanout-${subscribers}-burst`,
    title: `Fan-out to ${subscribers.toLocaleString('en-US')} subscribers${mode === 'paced' ? '' : ', burst publisher'}`,
    stacks: ['lifeline', 'ws', 'socketio', 'floor'],
    params: { subscribers, deliveries: fanout.deliveries, probes: fanout.probes, bodySize: fanout.bodySize, publisher: `in the server process, ${mode === 'burst' ? 'every event in one go' : 'one event per event-loop turn'}` },
    metrics: {
      deliveriesPerSec: { label: 'deliveries', unit: '/s', better: 'higher' },
      latencyMs: { label: 'publish to last delivery, p50', unit: 'ms', better: 'lower' },
      serverCpuUsPerDelivery: { label: 'server CPU per delivery', unit: 'µs', better: 'lower' },
      peakRssMB: { label: 'server peak RSS', unit: 'MB', better: 'lower' },
      serverCpuMs: { label: 'server CPU, publishing', unit: 'ms', better: 'lower' },
      clientCpuMs: { label: 'client CPU, publishing', unit: 'ms', better: 'lower' },
    },
    timeoutMs: 120_000 + subscribers * 30 + fanout.deliveries / 5,
    async run(context: RunContext, stack: string) {
      const node = await context.server(stack);
      const result = await measureFanout(context, {
        stack,
        nodes: [node],
        subscribers,
        deliveries: fanout.deliveries,
        probes: fanout.probes,
        bodySize: fanout.bodySize,
        clientProcesses: 2,
        mode,
      });
      const { events: _events, latencyMaxMs: _max, nodeCpuUsPerDelivery: _nodes, externalCpuMs: _external, ...metrics } = result;
      return metrics;
    },
  };
}
