/**
 * The server the demo and admin pages are tested against: the built `lifeline serve --demo`
 * (its pages, `/demo/token`, the `chat` namespace, `demo.drop`, the admin snapshot and /metrics),
 * started with a known admin key.
 */
import { randomBytes } from 'node:crypto';
import { startServe, stopAll } from '../cli/harness.js';

export interface DemoServer {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly adminKey: string;
  /** The Prometheus text of /metrics. */
  metrics(): Promise<string>;
  close(): Promise<void>;
}

export async function startDemoServer(): Promise<DemoServer> {
  const adminKey = `test-admin-${randomBytes(8).toString('hex')}`;
  const running = await startServe(['--demo', '--port', '0', '--api-key', adminKey, '--log-level', 'warn']);
  return {
    url: running.url,
    adminKey,
    async metrics() {
      const response = await fetch(`${running.url}/metrics`);
      if (!response.ok) throw new Error(`/metrics answered ${response.status}`);
      return response.text();
    },
    close: () => stopAll(),
  };
}

/** The value of one series (`name` or `name{labels}`, exactly as written) in Prometheus text, or undefined. */
export function metricValue(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    if (space > 0 && line.slice(0, space) === series) return Number(line.slice(space + 1));
  }
  return undefined;
}
