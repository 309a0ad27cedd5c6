// The HTTP side of `lifeline serve`: /healthz, /readyz, /metrics (with a key), the admin
// snapshot (its numbers are the metrics' numbers), and the backend API under /api/v1 with
// every error it answers.
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, test } from 'node:test';
import { memberId } from '../../src/server/protocol/member-id.js';
import { ProtocolClient } from '../server/protocol/protocol-client.js';
import { byLabel, parseSamples, sampleValue, type Sample } from '../standalone/prometheus-text.js';
import { startServe, stopAll, type RunningServer } from './harness.js';
import { within } from '../helpers/wait.js';
import { hs256 } from '../helpers/jwt.js';
import { API_KEY, call, errorCode, nowSeconds, refusal, type JsonResponse } from './serve-support.js';
import type { AdminSnapshot } from '../../src/core/admin-snapshot.js';

const METRICS_KEY = 'metrics-key-0123456789abcdef';
const channels = {
  chat: { history: { size: 5, ttl: 60_000 }, presence: true },
  news: { history: { size: 50, ttl: 60_000 } },
};

let server: RunningServer;
before(async () => {
  server = await startServe(['--port', '0', '--api-key', API_KEY, '--metrics-key', METRICS_KEY, '--max-payload', '2048', '--ping-interval', '0', '--channels', JSON.stringify(channels)], {
    LIFELINE_JWT_SECRET: 'serve-test-secret-0123456789-abcdefgh',
  });
});
after(stopAll);

const auth = { Authorization: `Bearer ${API_KEY}` };
const api = (path: string, init: Parameters<typeof call>[1] = {}): Promise<JsonResponse> =>
  call(`${server.url}/api/v1/${path}`, { ...init, headers: { ...auth, ...(init.headers as Record<string, string> | undefined) } });
const publish = (channel: string, data: unknown): Promise<JsonResponse> => api(`channels/${encodeURIComponent(channel)}/publish`, { method: 'POST', json: { data } });

async function member(t: Parameters<typeof ProtocolClient.connect>[0], user: string): Promise<Awaited<ReturnType<typeof ProtocolClient.connect>>> {
  return ProtocolClient.connect(t, server.wsUrl(), {}, { query: { token: await hs256({ sub: user, exp: nowSeconds() + 600 }) } });
}

async function scrape(): Promise<Sample[]> {
  const response = await call(`${server.url}/metrics`, { headers: { Authorization: `Bearer ${METRICS_KEY}` } });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parseSamples(response.text);
}

test('/healthz and /readyz answer 200 JSON while the server runs', async () => {
  const health = await call(`${server.url}/healthz`);
  assert.equal(health.status, 200);
  assert.deepEqual(health.body, { status: 'ok' });
  assert.equal(health.headers.get('cache-control'), 'no-store');
  const ready = await call(`${server.url}/readyz`);
  assert.equal(ready.status, 200);
  assert.deepEqual(ready.body, { status: 'ready' });
  assert.equal((await call(`${server.url}/healthz`, { method: 'HEAD' })).status, 200);
  assert.equal((await call(`${server.url}/healthz`, { method: 'POST' })).status, 405);
});

test('/metrics wants the metrics key when one is set', async () => {
  const open = await call(`${server.url}/metrics`);
  assert.equal(open.status, 401);
  assert.equal(errorCode(open), 'unauthorized');
  assert.equal((await call(`${server.url}/metrics?key=${METRICS_KEY}`)).status, 200);
  assert.equal((await call(`${server.url}/metrics`, { headers: auth })).status, 401, 'the API key is not the metrics key');
});

test('the API and the admin snapshot want the API key: 401 without it or with a wrong one', async () => {
  for (const path of ['/api/v1/channels/chat:lobby/history', '/admin/api/snapshot']) {
    const none = await call(`${server.url}${path}`);
    assert.equal(none.status, 401, path);
    assert.equal(errorCode(none), 'unauthorized');
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
    assert.equal((await call(`${server.url}${path}`, { headers: { Authorization: 'Bearer wrong-key-0123456789' } })).status, 401, path);
    assert.equal((await call(`${server.url}${path}?key=wrong`)).status, 401, path);
    assert.equal((await call(`${server.url}${path}?key=${API_KEY}`)).status, 200, path);
  }
});

test('publish: every subscriber gets the event; the answer is its position', async (t) => {
  const { client } = await member(t, 'ada');
  await client.subscribe(1, 'news:today');
  const first = await publish('news:today', { headline: 'one' });
  assert.equal(first.status, 200, first.text);
  const position = first.body.position as { epoch: string; offset: number };
  assert.equal(position.offset, 1);
  assert.equal(typeof position.epoch, 'string');
  const event = await client.take('event', (e) => e.channel === 'news:today');
  assert.deepEqual({ epoch: event.epoch, offset: event.offset, data: event.data }, { ...position, data: { headline: 'one' } });
  const second = await publish('news:today', null);
  assert.deepEqual(second.body, { position: { epoch: position.epoch, offset: 2 } });
});

test('publish with Idempotency-Key: a retry stores nothing and gets the first position; another body is 422; a malformed key is 400', async (t) => {
  const { client } = await member(t, 'ida');
  await client.subscribe(1, 'news:keyed');
  const keyed = (data: unknown, key: string): Promise<JsonResponse> =>
    api('channels/news:keyed/publish', { method: 'POST', json: { data }, headers: { 'Idempotency-Key': key } });
  const first = await keyed({ n: 1 }, '"8e03978e-40d5-43e8-bc93-6894a57f9324"');
  assert.equal(first.status, 200, first.text);
  const retried = await keyed({ n: 1 }, '"8e03978e-40d5-43e8-bc93-6894a57f9324"');
  assert.deepEqual(retried.body, first.body, 'the stored position');
  const bare = await keyed({ n: 1 }, '8e03978e-40d5-43e8-bc93-6894a57f9324');
  assert.deepEqual(bare.body, first.body, 'a bare key is the same key');
  const conflict = await keyed({ n: 2 }, '"8e03978e-40d5-43e8-bc93-6894a57f9324"');
  assert.equal(conflict.status, 422, conflict.text);
  assert.equal(errorCode(conflict), 'idempotency_conflict');
  for (const malformed of ['""', '"a b"', `"${'k'.repeat(256)}"`, '"a", "b"']) {
    const refused = await keyed({ n: 3 }, malformed);
    assert.equal(refused.status, 400, `${malformed}: ${refused.text}`);
    assert.equal(errorCode(refused), 'bad_idempotency_key');
  }
  const other = await keyed({ n: 1 }, '"another-key"');
  assert.equal((other.body.position as { offset: number }).offset, 2, 'another key is another message');
  await client.take('event', (event) => event.channel === 'news:keyed' && event.offset === 2);
  await client.sync();
  assert.deepEqual(
    client.log.filter((message) => message.type === 'event' && message.channel === 'news:keyed').map((message) => (message as { offset: number }).offset),
    [1, 2],
    'subscribers heard each stored event once',
  );
});

test('bodies: data nested too deeply is a 400 (not a 500), and a "__proto__" key in data is published as sent', async (t) => {
  const roomy = await startServe(['--port', '0', '--api-key', API_KEY, '--allow-anonymous', '--ping-interval', '0', '--channels', JSON.stringify({ news: { history: { size: 10, ttl: 60_000 } } })]);
  const post = (channel: string, body: string): Promise<JsonResponse> =>
    call(`${roomy.url}/api/v1/channels/${encodeURIComponent(channel)}/publish`, { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body });
  const refused = await post('news:deep', `{"data":${'['.repeat(50_000)}${']'.repeat(50_000)}}`);
  assert.equal(refused.status, 400, refused.text);
  assert.match(JSON.stringify(refused.body), /nested more than 100 levels/);
  const { client } = await ProtocolClient.connect(t, roomy.wsUrl());
  await client.subscribe(1, 'news:proto');
  const published = await post('news:proto', '{"data":{"__proto__":{"admin":true},"text":"hi"}}');
  assert.equal(published.status, 200, published.text);
  const event = await client.take('event', (e) => e.channel === 'news:proto');
  assert.equal(JSON.stringify(event.data), '{"__proto__":{"admin":true},"text":"hi"}');
  // The same over the socket: a message nested too deeply is refused, the process and the connection live on.
  client.sendText(`{"type":"publish","id":2,"channel":"news:deep","data":${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
  const bad = await client.reply(2);
  assert.equal(bad.type === 'error' && bad.code, 'bad_message');
  assert.equal((await call(`${roomy.url}/healthz`)).status, 200, 'the server is alive');
  assert.equal((await client.publish(3, 'news:deep', { fine: true })).type, 'ack', 'and the connection carries on');
});

test('history: since a position, limited with "more", the newest without since, recovered:false outside history', async () => {
  const channel = 'chat:history-test';
  let epoch = '';
  for (let n = 1; n <= 7; n++) epoch = ((await publish(channel, n)).body.position as { epoch: string }).epoch;
  const history = (query: string): Promise<JsonResponse> => api(`channels/${encodeURIComponent(channel)}/history${query}`);

  const since = await history(`?since=${epoch}:4`);
  assert.equal(since.status, 200);
  assert.deepEqual(since.body, {
    channel,
    position: { epoch, offset: 7 },
    recovered: true,
    events: [5, 6, 7].map((n) => ({ epoch, offset: n, data: n })),
    more: false,
  });
  const limited = await history(`?since=${epoch}:4&limit=2`);
  assert.deepEqual((limited.body.events as { offset: number }[]).map((e) => e.offset), [5, 6]);
  assert.equal(limited.body.more, true);
  // The namespace keeps 5 events: asked for the newest 10, it answers the 5 it has.
  const newest = await history('?limit=10');
  assert.deepEqual((newest.body.events as { data: number }[]).map((e) => e.data), [3, 4, 5, 6, 7]);
  assert.equal(newest.body.recovered, true);
  assert.deepEqual(((await history('?limit=2')).body.events as { data: number }[]).map((e) => e.data), [6, 7]);
  const trimmed = await history(`?since=${epoch}:1`);
  assert.deepEqual({ recovered: trimmed.body.recovered, events: trimmed.body.events }, { recovered: false, events: [] }, 'offset 2 is gone: reload state');
  const otherEpoch = await history('?since=not-this-epoch:3');
  assert.equal(otherEpoch.body.recovered, false);
  assert.deepEqual(otherEpoch.body.position, { epoch, offset: 7 });
  const empty = await api('channels/chat:never-used/history');
  assert.deepEqual({ recovered: empty.body.recovered, events: empty.body.events, offset: (empty.body.position as { offset: number }).offset }, { recovered: true, events: [], offset: 0 });
  for (const bad of ['?since=nocolon', '?since=e:-1', '?since=e:1.5', '?limit=0', '?limit=1001', '?limit=x']) {
    const response = await history(bad);
    assert.equal(response.status, 400, bad);
    assert.equal(errorCode(response), 'bad_request', bad);
  }
});

test('presence lists who is subscribed; a namespace without presence answers presence_off', async (t) => {
  const { client, welcome } = await member(t, 'bob');
  await client.subscribe(1, 'chat:room-1');
  const presence = await api('channels/chat%3Aroom-1/presence');
  assert.equal(presence.status, 200);
  assert.deepEqual(presence.body, { channel: 'chat:room-1', members: [{ client: memberId(welcome.session), user: 'bob' }] });
  const off = await api('channels/news:today/presence');
  assert.equal(off.status, 400);
  assert.equal(errorCode(off), 'presence_off');
});

test('disconnect a user: each of their connections here closes with 4001 and the reason', async (t) => {
  const first = await member(t, 'carol');
  const second = await member(t, 'carol');
  const other = await member(t, 'dave');
  const kicked = await api('users/carol/disconnect', { method: 'POST', json: { reason: 'account suspended' } });
  assert.deepEqual(kicked.body, { closed: 2, everywhere: true });
  for (const { client } of [first, second]) assert.deepEqual(await within(client.closed, 5_000, 'the kick'), { code: 4001, reason: 'account suspended' });
  await other.client.sync();
  assert.deepEqual((await api('users/nobody/disconnect', { method: 'POST' })).body, { closed: 0, everywhere: true });
});

test('disconnect a session: its connection closes with 4001 "kicked" by default', async (t) => {
  const { client, welcome } = await member(t, 'erin');
  const response = await api(`sessions/${encodeURIComponent(welcome.session)}/disconnect`, { method: 'POST' });
  assert.deepEqual(response.body, { closed: 1, everywhere: true });
  assert.deepEqual(await within(client.closed, 5_000, 'the kick'), { code: 4001, reason: 'kicked' });
  assert.deepEqual((await api('sessions/s-unknown/disconnect', { method: 'POST' })).body, { closed: 0, everywhere: true });
});

test('API errors: 400 bad body or channel, 404 unknown route, 405 wrong method, 413 too large, 415 not JSON', async () => {
  const post = (path: string, body: string, headers: Record<string, string> = { 'Content-Type': 'application/json' }): Promise<JsonResponse> => api(path, { method: 'POST', body, headers });
  const cases: readonly [Promise<JsonResponse>, number, string, RegExp?][] = [
    [post('channels/news:x/publish', '{"data":'), 400, 'bad_json', /not valid JSON/],
    [post('channels/news:x/publish', '{}'), 400, 'bad_request', /^data: is required/],
    [post('channels/news:x/publish', ''), 400, 'bad_request', /must be a JSON object \{"data": \.\.\.\}/],
    [post('channels/news:x/publish', '[1]'), 400, 'bad_request', /must be a JSON object/],
    [post('channels/news:x/publish', '{"data":1,"extra":2}'), 400, 'bad_request', /Unrecognized key/],
    [post('channels/news:x/publish', '{"data":1}', { 'Content-Type': 'text/plain' }), 415, 'unsupported_media_type'],
    [post('channels/news:x/publish', JSON.stringify({ data: 'x'.repeat(3000) })), 413, 'too_large', /larger than 2048 bytes/],
    [post('channels/bad%20name/publish', '{"data":1}'), 400, 'bad_channel', /not a channel name/],
    [post('channels/other:x/publish', '{"data":1}'), 400, 'bad_channel', /no namespace allows channel "other:x"/],
    [post('users/ada/disconnect', JSON.stringify({ reason: 'é'.repeat(61) })), 400, 'bad_request', /reason: reason must be at most 120 bytes/],
    [post('users/ada/disconnect', '{"why":1}'), 400, 'bad_request'],
    [api('channels/news:x/publish'), 405, 'method_not_allowed'],
    [api('channels/news:x/history', { method: 'POST' }), 405, 'method_not_allowed'],
    [api('channels/news:x/nothing'), 404, 'not_found'],
    [api('nope'), 404, 'not_found'],
    [call(`${server.url}/admin/api/other`, { headers: auth }), 404, 'not_found'],
  ];
  for (const [pending, status, code, message] of cases) {
    const response = await pending;
    assert.equal(response.status, status, response.text);
    assert.equal(errorCode(response), code, response.text);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    if (message) assert.match((response.body.error as { message: string }).message, message);
  }
  assert.equal((await api('channels/news:x/publish')).headers.get('allow'), 'POST');
});

test('a declared Content-Length over the limit is refused before the body is read', async () => {
  const url = new URL(`${server.url}/api/v1/channels/news:x/publish`);
  const status = await within(
    new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { ...auth, 'Content-Type': 'application/json', 'Content-Length': '10000000' } },
        (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
          req.destroy();
        },
      );
      req.on('error', reject);
      req.write('{"data":'); // and never the other 10 MB
    }),
    5_000,
    'the 413',
  );
  assert.equal(status, 413);
});

test('the admin snapshot lists connections and channels, and its totals are the /metrics numbers', async (t) => {
  const before = await scrape();
  const { client, welcome } = await member(t, 'frank');
  await client.subscribe(1, 'chat:snapshot-a');
  await client.subscribe(2, 'news:snapshot-b');
  await client.publish(3, 'chat:snapshot-a', 'hi');
  await client.take('event', (e) => e.channel === 'chat:snapshot-a');
  await client.sync();

  const snapshot = await call(`${server.url}/admin/api/snapshot?key=${API_KEY}`);
  const after = await scrape(); // nothing happens on a WebSocket between the two reads
  assert.equal(snapshot.status, 200);
  const body = snapshot.body as unknown as AdminSnapshot;
  assert.ok(Math.abs(body.at - Date.now()) < 5_000);
  assert.ok(body.uptime > 0);
  assert.equal(body.scope, 'node', 'the snapshot says it covers the answering node only');
  assert.match(body.node, /:\d+$/);
  const row = body.connections.list.find((entry) => entry.user === 'frank');
  assert.ok(row, JSON.stringify(body.connections));
  assert.equal(row.state, 'open');
  assert.equal(row.protocol, 'lifeline.v1');
  assert.equal(row.session, welcome.session);
  assert.equal(row.subscriptions, 2);
  assert.ok(row.ageMs >= 0 && row.ageMs < 60_000);
  assert.equal(body.connections.truncated, false);
  assert.ok(body.channels.some((entry) => entry.channel === 'chat:snapshot-a' && entry.subscribers === 1));

  assert.equal(body.connections.open, sampleValue(after, 'lifeline_connections_open'));
  assert.equal(body.totals.messagesIn, sampleValue(after, 'lifeline_messages_received_total'));
  assert.equal(body.totals.messagesOut, sampleValue(after, 'lifeline_messages_sent_total'));
  assert.equal(body.totals.bytesIn, sampleValue(after, 'lifeline_received_bytes_total'));
  assert.equal(body.totals.bytesOut, sampleValue(after, 'lifeline_sent_bytes_total'));
  assert.deepEqual(body.totals.handshakes, byLabel(after, 'lifeline_handshakes_total', 'status'));
  assert.deepEqual(body.totals.closes, byLabel(after, 'lifeline_closes_total', 'code'));
  assert.equal(body.totals.heartbeatTerminations, sampleValue(after, 'lifeline_heartbeat_terminations_total'));
  assert.equal(body.totals.slowConsumerCloses, sampleValue(after, 'lifeline_slow_consumer_closes_total'));

  // And they moved with the traffic.
  assert.ok(sampleValue(after, 'lifeline_messages_received_total') >= sampleValue(before, 'lifeline_messages_received_total') + 5, 'hello, 2 subscribes, publish, barrier');
  assert.ok(sampleValue(after, 'lifeline_messages_sent_total') > sampleValue(before, 'lifeline_messages_sent_total'));
  assert.ok(sampleValue(after, 'lifeline_handshakes_total', { status: '101' }) > sampleValue(before, 'lifeline_handshakes_total', { status: '101' }));
  assert.ok(sampleValue(after, 'lifeline_broker_duration_seconds_count', { operation: 'publish' }) > sampleValue(before, 'lifeline_broker_duration_seconds_count', { operation: 'publish' }));
  assert.ok(sampleValue(after, 'lifeline_http_request_duration_seconds_count', { route: '/api/v1/channels/:channel/publish', status: '200' }) >= 1);
});

test('a refused handshake and a close show up as counters', async (t) => {
  const before = await scrape();
  assert.equal((await refusal(`${server.wsUrl()}?token=not-a-token`)).status, 401);
  const { client } = await member(t, 'gina');
  client.ws.close(1000);
  await within(client.closed, 5_000, 'close');
  // The server counts the close when its own socket closes, a moment after the client's close
  // event, in another process: read until it shows (bounded in count and time).
  const closes = (samples: Sample[]): number => sampleValue(samples, 'lifeline_closes_total', { code: '1000' });
  let after = await scrape();
  for (let attempt = 0; attempt < 200 && closes(after) === closes(before); attempt++) after = await scrape();
  assert.equal(closes(after), closes(before) + 1);
  assert.equal(sampleValue(after, 'lifeline_handshakes_total', { status: '401' }), sampleValue(before, 'lifeline_handshakes_total', { status: '401' }) + 1);
});

test('without --api-key the API and the snapshot answer 404 api_disabled; without --demo there is no /demo/token', async () => {
  const bare = await startServe(['--port', '0', '--allow-anonymous']);
  for (const path of ['/api/v1/channels/chat:x/history', '/admin/api/snapshot']) {
    const response = await call(`${bare.url}${path}`);
    assert.equal(response.status, 404, path);
    assert.equal(errorCode(response), 'api_disabled');
    assert.match((response.body.error as { message: string }).message, /set --api-key/);
  }
  assert.equal((await call(`${bare.url}/demo/token?user=ada`)).status, 404);
  assert.equal((await call(`${bare.url}/metrics`)).status, 200, '/metrics is open by default');
});
