// The HTTP side of the standalone server against what a peer can send: bodies that are not
// UTF-8 JSON, requests the client abandons, readiness as /readyz and /metrics report it, and
// requests in flight at shutdown.
import assert from 'node:assert/strict';
import { Agent, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { MemoryBroker } from '../../src/broker/memory-broker.js';
import { createStandalone, type Standalone } from '../../src/standalone/standalone.js';
import { Gate } from '../helpers/gate.js';
import { eventually, within } from '../helpers/wait.js';
import { byLabel, parseSamples, sampleValue } from './prometheus-text.js';

const KEY = 'http-edges-test-key-0123456789';
let standalone: Standalone;
let port: number;

before(async () => {
  standalone = createStandalone({ port: 0, allowAnonymous: true, apiKey: KEY, pingInterval: 0 }, { log: pino({ level: 'silent' }) });
  ({ port } = await standalone.server.listen());
});
after(async () => {
  await standalone.server.close({ drainTimeout: 0 });
  await standalone.close();
});

/** One request with raw bytes for a body; the status and the parsed JSON answer. */
function send(method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<{ status: number; body: { error?: { code?: string; message?: string } } & Record<string, unknown> }> {
  const done = new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
    const request = httpRequest({ host: '127.0.0.1', port, method, path, headers: { Authorization: `Bearer ${KEY}`, ...headers } }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.once('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }));
    });
    request.once('error', reject);
    request.end(body);
  });
  return within(done, 5_000, `${method} ${path}`);
}

/** A broker whose publishes wait at `gate` (counted as they arrive). */
class HeldBroker extends MemoryBroker {
  entered = 0;
  constructor(private readonly gate: Gate) {
    super();
  }
  override async publish(...args: Parameters<MemoryBroker['publish']>): ReturnType<MemoryBroker['publish']> {
    this.entered++;
    await this.gate.wait();
    return super.publish(...args);
  }
}

async function historyOf(channel: string): Promise<unknown[]> {
  const answer = await send('GET', `/api/v1/channels/${channel}/history`, {});
  assert.equal(answer.status, 200);
  return (answer.body.events as { data: unknown }[]).map((event) => event.data);
}

test('a body that is not UTF-8 is refused (400 bad_json), never published with its bytes replaced', async () => {
  const latin1 = Buffer.from('{"data":"caf\xe9"}', 'latin1');
  const answer = await send('POST', '/api/v1/channels/chat:utf8/publish', { 'Content-Type': 'application/json' }, latin1);
  assert.equal(answer.status, 400);
  assert.equal(answer.body.error?.code, 'bad_json');
  assert.match(answer.body.error?.message ?? '', /UTF-8/);
  const ok = await send('POST', '/api/v1/channels/chat:utf8/publish', { 'Content-Type': 'application/json' }, Buffer.from('{"data":"café"}', 'utf8'));
  assert.equal(ok.status, 200);
  assert.deepEqual(await historyOf('chat:utf8'), ['café'], 'only the UTF-8 body was published');
});

test('a JSON body declared in another charset, or content-coded (gzip), is 415, and nothing is published', async () => {
  const body = Buffer.from('{"data":1}');
  const refused: Record<string, string>[] = [{ 'Content-Type': 'application/json; charset=iso-8859-1' }, { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' }];
  for (const headers of refused) {
    const answer = await send('POST', '/api/v1/channels/chat:charset/publish', headers, body);
    assert.equal(answer.status, 415, JSON.stringify(headers));
    assert.equal(answer.body.error?.code, 'unsupported_media_type');
  }
  const taken: Record<string, string>[] = [{ 'Content-Type': 'application/json; charset=UTF-8' }, { 'Content-Type': 'application/json; charset="utf-8"', 'Content-Encoding': 'identity' }, { 'Content-Type': 'application/json;charset=utf8' }];
  for (const headers of taken) {
    assert.equal((await send('POST', '/api/v1/channels/chat:charset/publish', headers, body)).status, 200, JSON.stringify(headers));
  }
  assert.deepEqual(await historyOf('chat:charset'), [1, 1, 1]);
});

test('a request the client abandons before its answer is not counted as a 200 in the HTTP latency histogram', async () => {
  const route = '/api/v1/channels/:channel/publish';
  const statuses = async (): Promise<Record<string, number>> => {
    const samples = parseSamples(await standalone.metrics.registry.metrics()).filter((sample) => sample.labels.route === route);
    return byLabel(samples, 'lifeline_http_request_duration_seconds_count', 'status');
  };
  const before = await statuses();
  let requests = 0;
  const count = (): void => void requests++;
  standalone.server.httpServer.on('request', count);
  const socket = connect({ host: '127.0.0.1', port });
  try {
    await within(new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject)), 5_000, 'connect');
    socket.write(`POST /api/v1/channels/chat:gone/publish HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"data":`);
    await eventually(() => requests === 1, 'the request read');
  } finally {
    standalone.server.httpServer.off('request', count);
    socket.destroy();
  }
  await eventually(async () => Object.values(await statuses()).reduce((sum, n) => sum + n, 0) > Object.values(before).reduce((sum, n) => sum + n, 0), 'the abandoned request observed');
  const after = await statuses();
  assert.equal(after['200'] ?? 0, before['200'] ?? 0, 'no 200 was answered');
  assert.equal((after.aborted ?? 0) - (before.aborted ?? 0), 1, `labelled aborted: ${JSON.stringify(after)}`);
  assert.deepEqual(await historyOf('chat:gone'), [], 'nothing was published');
});

test('lifeline_ready is 0 whenever /readyz answers 503, the drain delay (leaving the load balancer) included', async () => {
  const ready = async (): Promise<number> => sampleValue(parseSamples(await standalone.metrics.registry.metrics()), 'lifeline_ready');
  assert.equal((await send('GET', '/readyz', {})).status, 200);
  assert.equal(await ready(), 1);
  standalone.leave();
  const readyz = await send('GET', '/readyz', {});
  assert.equal(readyz.status, 503);
  assert.equal(readyz.body.reason, 'draining: leaving the load balancer');
  assert.equal(await ready(), 0, '/metrics says the same as /readyz');
});

test('publishes in flight when the server shuts down get their answers: each stored event is answered 200, none reset', async () => {
  const gate = new Gate();
  const broker = new HeldBroker(gate);
  const held = createStandalone({ port: 0, allowAnonymous: true, apiKey: KEY, pingInterval: 0 }, { log: pino({ level: 'silent' }), broker });
  const { url } = await held.server.listen();
  gate.close();
  const answers = Array.from({ length: 5 }, (_, i) =>
    fetch(`${url}/api/v1/channels/chat:shutdown/publish`, { method: 'POST', headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ data: i }) }).then(
      (response) => response.status,
      (error: unknown) => `no answer: ${String((error as { cause?: { code?: unknown } }).cause?.code ?? error)}`,
    ),
  );
  try {
    await eventually(() => broker.entered === 5, 'every publish handed to the broker');
    const closed = held.server.close();
    // The broker answers once the server has stopped listening: the last step of its shutdown.
    await eventually(() => !held.server.httpServer.listening, 'the listener closed');
    gate.open();
    await within(closed, 10_000, 'the server closed');
    assert.deepEqual(await within(Promise.all(answers), 5_000, 'the answers'), [200, 200, 200, 200, 200]);
    assert.equal((await broker.rewind('chat:shutdown', 10, undefined)).events.length, 5);
  } finally {
    gate.open();
    await held.server.close({ drainTimeout: 0 });
    await held.close();
  }
});

test('an answer given while the server shuts down ends its keep-alive connection (Connection: close), so the close does not wait for the keep-alive timeout', async () => {
  const gate = new Gate();
  const broker = new HeldBroker(gate);
  const held = createStandalone({ port: 0, allowAnonymous: true, apiKey: KEY, pingInterval: 0 }, { log: pino({ level: 'silent' }), broker });
  const { port: heldPort } = await held.server.listen();
  gate.close();
  const agent = new Agent({ keepAlive: true });
  const answer = new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
    const request = httpRequest({ host: '127.0.0.1', port: heldPort, agent, method: 'POST', path: '/api/v1/channels/chat:keepalive/publish', headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' } }, (response) => {
      response.resume();
      response.once('end', () => resolve({ status: response.statusCode ?? 0, connection: response.headers.connection }));
    });
    request.once('error', reject);
    request.end(JSON.stringify({ data: 1 }));
  });
  try {
    await eventually(() => broker.entered === 1, 'the publish handed to the broker');
    const closed = held.server.close({ drainTimeout: 60_000 });
    await eventually(() => !held.server.httpServer.listening, 'the listener closed');
    gate.open();
    assert.deepEqual(await within(answer, 10_000, 'the answer'), { status: 200, connection: 'close' });
    await within(closed, 30_000, 'the server closed');
  } finally {
    gate.open();
    agent.destroy();
    await held.server.close({ drainTimeout: 0 });
    await held.close();
  }
});
