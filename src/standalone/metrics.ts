import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { LifelineServer } from '../server/index.js';
import type { ApiKey } from './api-key.js';
import { sendError } from './http-json.js';
import type { Route } from './router.js';

/** Latency buckets, seconds: 1 ms to 10 s. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface Metrics {
  readonly registry: Registry;
  /** One HTTP request finished: `route` is the route pattern (bounded), never the raw path; `status` its answer's, or `aborted`. */
  observeHttp(route: string, status: number | string, seconds: number): void;
  /** One broker call finished. */
  observeBroker(operation: string, seconds: number): void;
}

/**
 * Prometheus metrics for a server, in a registry of their own (never the process-global one),
 * with Node's default process metrics. `ready` is what /readyz reports (default: the server's
 * own readiness). Every counter is read from `server.stats` at scrape
 * time, so /metrics and the admin snapshot show the same numbers; only the latency
 * histograms are kept here. Label values are bounded: statuses, close codes, methods that
 * have a handler, route patterns, broker operations.
 */
export function createMetrics<User>(server: LifelineServer<User>, history?: () => { readonly bytes: number; readonly evicted: number }, ready: () => boolean = () => server.ready): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const { stats } = server;
  const registers = [registry];

  const counter = (name: string, help: string, read: () => number): void => {
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  };
  const labelled = (name: string, help: string, label: string, read: () => Iterable<readonly [string | number, number]>): void => {
    new Counter({
      name,
      help,
      labelNames: [label],
      registers,
      collect() {
        this.reset();
        for (const [value, count] of read()) this.inc({ [label]: String(value) }, count);
      },
    });
  };
  const gauge = (name: string, help: string, read: () => number): void => {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  };

  gauge('lifeline_connections_open', 'Open WebSocket connections on this node.', () => server.connections.size);
  gauge('lifeline_sessions', 'lifeline.v1 sessions connected to this node.', () => server.realtime.sessions);
  gauge('lifeline_channels', 'Channels with at least one subscriber on this node.', () => server.realtime.channels.size);
  gauge('lifeline_ready', '1 while /readyz answers 200 (running, not leaving the load balancer, its broker serving), else 0.', () => (ready() ? 1 : 0));
  labelled('lifeline_handshakes_total', 'Opening handshakes by outcome: 101 accepted, else the HTTP status of the refusal.', 'status', () => stats.handshakes);
  labelled('lifeline_handshake_refusals_total', 'Refused handshakes by reason: capacity, rate, busy (event loop behind), unauthorized, malformed, ...', 'reason', () => stats.refusals);
  labelled('lifeline_closes_total', 'Closed connections by close code.', 'code', () => stats.closes);
  counter('lifeline_messages_received_total', 'Application messages received (keepalive pings excluded).', () => stats.messagesIn);
  counter('lifeline_messages_sent_total', 'Messages sent.', () => stats.messagesOut);
  counter('lifeline_received_bytes_total', 'Bytes of messages received.', () => stats.bytesIn);
  counter('lifeline_sent_bytes_total', 'Bytes of messages sent (before compression).', () => stats.bytesOut);
  counter('lifeline_heartbeat_terminations_total', 'Peers terminated for not answering a ping within pongTimeout.', () => stats.heartbeatTerminations);
  counter('lifeline_slow_consumer_closes_total', 'Connections closed with 4002 for exceeding their outbound budget.', () => stats.slowConsumerCloses);
  counter('lifeline_invalid_messages_total', 'Malformed or out-of-place application messages.', () => stats.invalidMessages);
  if (history) {
    gauge('lifeline_history_bytes', 'Bytes of channel history held in memory, against the history budget.', () => history().bytes);
    counter('lifeline_history_evicted_total', 'Stored events evicted to keep channel history within the history budget.', () => history().evicted);
  }
  labelled('lifeline_recoveries_total', 'Subscribes with a position to recover from, by outcome.', 'outcome', () => [
    ['recovered', stats.recovered],
    ['not_recovered', stats.notRecovered],
  ]);

  const requests = new Histogram({
    name: 'lifeline_request_duration_seconds',
    help: 'lifeline.v1 requests to a method with a handler, from receipt to reply (result, error or timeout).',
    labelNames: ['method'],
    buckets: LATENCY_BUCKETS,
    registers,
  });
  stats.observer = { request: (method, ms) => requests.observe({ method }, ms / 1000) };
  const broker = new Histogram({
    name: 'lifeline_broker_duration_seconds',
    help: 'Broker calls by operation (publish: append to history and fan out).',
    labelNames: ['operation'],
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const http = new Histogram({
    name: 'lifeline_http_request_duration_seconds',
    help: 'HTTP requests (API, health, metrics, pages) by route pattern and status.',
    labelNames: ['route', 'status'],
    buckets: LATENCY_BUCKETS,
    registers,
  });
  return {
    registry,
    observeHttp: (route, status, seconds) => http.observe({ route, status: String(status) }, seconds),
    observeBroker: (operation, seconds) => broker.observe({ operation }, seconds),
  };
}

/** `GET /metrics` in the Prometheus text format; with a key, only for `Authorization: Bearer KEY` or `?key=KEY`. */
export function metricsRoute(metrics: Metrics, key: ApiKey | undefined): Route {
  return {
    method: 'GET',
    path: '/metrics',
    handle: async ({ request, response, url }) => {
      if (key && !key.admits(request, url)) {
        sendError(response, 401, 'unauthorized', 'the metrics key is missing or wrong', { 'WWW-Authenticate': 'Bearer realm="lifeline-metrics"' });
        return;
      }
      const text = await metrics.registry.metrics();
      response.writeHead(200, { 'Content-Type': metrics.registry.contentType, 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(text) });
      response.end(text);
    },
  };
}
