// Echo: one client's round trip (p50/p99), then 100 clients with 10 messages each always in
// flight (echoes per second). Each server echoes the way its users would: Lifeline's `message`
// event on a plain connection, ws's JSON switch, Socket.IO's event handler; the floor echoes
// the frame's payload without parsing it.
import type { Sizes } from '../options.js';
import { checked, cpuOf, type RunContext, type Scenario } from './scenario.js';

export function echoScenario(sizes: Sizes): Scenario {
  const echo = sizes.echo;
  return {
    key: 'echo',
    title: 'Echo',
    stacks: ['lifeline', 'ws', 'socketio', 'floor'],
    params: { ...echo },
    metrics: {
      p50Us: { label: 'round trip p50', unit: 'µs', better: 'lower' },
      p99Us: { label: 'round trip p99', unit: 'µs', better: 'lower' },
      throughput: { label: `echo ${echo.clients}x${echo.inflight}`, unit: 'msg/s', better: 'higher' },
      serverCpuShare: { label: `server CPU during ${echo.clients}x${echo.inflight}`, unit: '%', better: 'lower' },
      serverCpuMs: { label: 'server CPU, run', unit: 'ms', better: 'lower' },
      clientCpuMs: { label: 'client CPU, run', unit: 'ms', better: 'lower' },
    },
    timeoutMs: 60_000 + echo.samples * 2 + echo.durationMs * 2,
    async run(context: RunContext, stack: string) {
      const { child: server, port } = await context.server(stack);
      const [client] = await context.clients(1);
      if (!client) throw new Error('no client');
      const args = { stack, port, bodySize: echo.bodySize, localAddress: client.localAddress };
      await context.waitQuiet();
      const serverStart = await cpuOf([server]);
      const clientStart = await cpuOf([client.child]);
      const latency = await client.child.call<{ p50: number; p99: number }>('echoLatency', { ...args, warmup: echo.warmup, samples: echo.samples }, 120_000);
      await context.waitQuiet();
      const before = await cpuOf([server]);
      const startedAt = Date.now();
      const throughput = await client.child.call<{ rate: number }>('echoThroughput', { ...args, clients: echo.clients, inflight: echo.inflight, warmupMs: echo.warmupMs, durationMs: echo.durationMs }, 120_000);
      const serverEnd = await cpuOf([server]);
      const wallMs = Date.now() - startedAt;
      return {
        p50Us: checked('echo p50', latency.p50),
        p99Us: checked('echo p99', latency.p99),
        throughput: checked('echo throughput', throughput.rate),
        serverCpuShare: (100 * (serverEnd - before)) / wallMs,
        serverCpuMs: serverEnd - serverStart,
        clientCpuMs: (await cpuOf([client.child])) - clientStart,
      };
    },
  };
}
