// The Prometheus metrics, in process: every counter reads the server's stats, and the hooks
// that feed them (requests, recoveries, messages and bytes out, broker timings) fire.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { MemoryBroker } from '../../src/broker/memory-broker.js';
import { startServer, type ServerFixture } from '../../src/testing/server-fixture.js';
import { createMetrics, type Metrics } from '../../src/standalone/metrics.js';
import { timedBroker } from '../../src/standalone/timed-broker.js';
import { within } from '../helpers/wait.js';
import { RawSocket } from '../helpers/raw-socket.js';
import { ProtocolClient } from '../server/protocol/protocol-client.js';
import { byLabel, parseSamples, sampleValue, type Sample } from './prometheus-text.js';

let fixture: ServerFixture<unknown>;
let metrics: Metrics;
const brokerCalls: string[] = [];

before(async () => {
  const broker = timedBroker(new MemoryBroker(), (operation, seconds) => {
    assert.ok(seconds >= 0 && seconds < 10);
    brokerCalls.push(operation);
    metrics.observeBroker(operation, seconds);
  });
  fixture = await startServer({ pingInterval: 0, broker, channels: { room: { history: { size: 10, ttl: 60_000 } } } });
  metrics = createMetrics(fixture.server);
  fixture.server.handle('echo', (params) => params);
});
after(() => fixture.close());

async function scrape(): Promise<Sample[]> {
  return parseSamples(await metrics.registry.metrics());
}

test('a fresh server: zero counters, the process metrics, ready', async () => {
  const samples = await scrape();
  assert.equal(sampleValue(samples, 'lifeline_connections_open'), 0);
  assert.equal(sampleValue(samples, 'lifeline_messages_sent_total'), 0);
  assert.equal(sampleValue(samples, 'lifeline_ready'), 1);
  assert.ok(samples.some((sample) => sample.name === 'process_cpu_user_seconds_total'), 'default process metrics');
  assert.ok(samples.some((sample) => sample.name === 'nodejs_eventloop_lag_seconds'), 'default Node metrics');
});

test('event-loop delay: the lag and its percentiles are present and numeric', async () => {
  // The delay histogram samples every 10 ms; one wait past that gives it a reading.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const samples = await scrape();
  for (const name of ['nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_p50_seconds', 'nodejs_eventloop_lag_p90_seconds', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_eventloop_lag_max_seconds']) {
    const sample = samples.find((candidate) => candidate.name === name);
    assert.ok(sample, `${name} is exported`);
    assert.ok(Number.isFinite(sample.value) && sample.value >= 0, `${name} is a non-negative number, got ${sample.value}`);
  }
  const p50 = sampleValue(samples, 'nodejs_eventloop_lag_p50_seconds');
  const p99 = sampleValue(samples, 'nodejs_eventloop_lag_p99_seconds');
  const max = sampleValue(samples, 'nodejs_eventloop_lag_max_seconds');
  assert.ok(p50 <= p99, `percentiles ordered: p50 ${p50} <= p99 ${p99}`);
  // Each scrape resets the histogram; one that caught no reading since reports max 0 (and
  // placeholder percentiles), which is not an ordering fault.
  if (max > 0) assert.ok(p99 <= max, `p99 ${p99} <= max ${max}`);
});

test('refused handshakes are counted by reason as well as by status', async () => {
  const raw = await RawSocket.request(fixture.port, { headers: { 'Sec-WebSocket-Version': '8' } });
  try {
    assert.equal((await raw.readResponse()).status, 426);
  } finally {
    raw.destroy();
  }
  const samples = await scrape();
  assert.equal(byLabel(samples, 'lifeline_handshake_refusals_total', 'reason').version, 1);
  assert.equal(byLabel(samples, 'lifeline_handshakes_total', 'status')['426'], 1);
});

test('requests are timed per method; recoveries counted by outcome; messages and bytes out match the wire', async (t) => {
  const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
  const reply = await client.request(1, 'echo', { n: 1 });
  assert.equal(reply.type, 'result');
  const first = await client.publish(2, 'room:a', 'one');
  assert.equal(first.type, 'ack');
  const position = first.type === 'ack' ? first.position : { epoch: '', offset: 0 };
  assert.equal((await client.subscribe(3, 'room:a', { epoch: position.epoch, offset: 0 })).recovered, true);
  assert.equal((await client.subscribe(4, 'room:b', { epoch: 'gone', offset: 5 })).recovered, false);
  await client.subscribe(5, 'room:c'); // no position: not a recovery
  await client.sync();

  const samples = await scrape();
  assert.equal(sampleValue(samples, 'lifeline_request_duration_seconds_count', { method: 'echo' }), 1);
  assert.deepEqual(byLabel(samples, 'lifeline_recoveries_total', 'outcome'), { recovered: 1, not_recovered: 1 });
  assert.equal(sampleValue(samples, 'lifeline_connections_open'), 1);
  assert.equal(sampleValue(samples, 'lifeline_sessions'), 1);
  assert.equal(sampleValue(samples, 'lifeline_channels'), 3);
  assert.equal(byLabel(samples, 'lifeline_handshakes_total', 'status')['101'], 1);
  // Everything the client received, as the server sent it (JSON round-trips to the same text).
  const received = client.log;
  assert.equal(sampleValue(samples, 'lifeline_messages_sent_total'), received.length);
  assert.equal(sampleValue(samples, 'lifeline_sent_bytes_total'), received.reduce((sum, message) => sum + Buffer.byteLength(JSON.stringify(message)), 0));
  assert.equal(sampleValue(samples, 'lifeline_messages_received_total'), 7, 'hello, request, publish, 3 subscribes, the barrier');
  assert.ok(sampleValue(samples, 'lifeline_received_bytes_total') > 0);
  assert.equal(sampleValue(samples, 'lifeline_broker_duration_seconds_count', { operation: 'publish' }), 1);
  assert.ok(brokerCalls.includes('recover'));
});

test('closes are counted by code once the connection is gone', async () => {
  const client = await ProtocolClient.open(fixture.wsUrl);
  await client.hello();
  const gone = within(once(fixture.server, 'disconnect'), 5_000, 'the server to see the close');
  client.ws.close(4100, 'bye');
  await gone;
  assert.equal(byLabel(await scrape(), 'lifeline_closes_total', 'code')['4100'], 1);
});

test('with an in-memory broker, its history budget shows: bytes held and events evicted', async (t) => {
  const memory = new MemoryBroker({ historyBudget: 1_000 });
  const served = await startServer({ pingInterval: 0, broker: memory, channels: { room: { history: { size: 10, ttl: 60_000 } } } });
  t.after(() => served.close());
  const shown = createMetrics(served.server, () => memory.history);
  for (let i = 0; i < 5; i++) await served.server.publish(`room:${i}`, 'x'.repeat(400));
  const samples = parseSamples(await shown.registry.metrics());
  assert.equal(sampleValue(samples, 'lifeline_history_bytes'), memory.history.bytes);
  assert.ok(memory.history.bytes <= 1_000);
  assert.equal(sampleValue(samples, 'lifeline_history_evicted_total'), memory.history.evicted);
  assert.ok(memory.history.evicted >= 3);
});
