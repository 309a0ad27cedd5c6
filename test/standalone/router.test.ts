// The standalone server's HTTP router and JSON body reader, on a real http server.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { readJsonBody, sendJson } from '../../src/standalone/http-json.js';
import { createRouter, type Route } from '../../src/standalone/router.js';
import { within } from '../helpers/wait.js';

const observed: { route: string; status: number | string }[] = [];
let onObserved = (): void => undefined;
/** Resolves once `count` requests have been observed. */
const observedCount = (count: number): Promise<void> =>
  new Promise((resolve) => {
    onObserved = () => {
      if (observed.length >= count) resolve();
    };
    onObserved();
  });
const routes: Route[] = [
  { method: 'GET', path: '/things/:id', handle: ({ response, params }) => sendJson(response, 200, { id: params.id }) },
  { method: 'POST', path: '/things/:id', handle: ({ response }) => sendJson(response, 201, {}) },
  {
    method: 'POST',
    path: '/api/echo',
    handle: async ({ request, response }) => {
      const body = await readJsonBody(request, 64);
      if (body.ok) sendJson(response, 200, { body: body.value ?? null });
      else sendJson(response, body.status, { error: body.code });
    },
  },
  {
    method: 'GET',
    path: '/api/throws',
    handle: () => {
      throw new Error('secret detail');
    },
  },
  { method: 'GET', path: '/api/rejects', handle: async () => Promise.reject(new Error('secret detail')) },
];

let server: Server;
let base: string;
before(async () => {
  const handler = createRouter(routes, {
    fallback: (_request, response) => response.writeHead(418, { 'Content-Type': 'text/plain' }).end('fallback'),
    apiPrefixes: ['/api/'],
    log: pino({ level: 'silent' }),
    observe: (route, status) => {
      observed.push({ route, status });
      onObserved();
    },
  });
  server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await within(once(server, 'listening'), 5_000, 'listen');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

async function call(path: string, init?: RequestInit): Promise<{ status: number; body: string; headers: Headers }> {
  const response = await within(fetch(`${base}${path}`, init), 5_000, `${init?.method ?? 'GET'} ${path}`);
  return { status: response.status, body: await response.text(), headers: response.headers };
}

test('params are URL-decoded, so a channel name with ":" or "/" fits one segment', async () => {
  assert.deepEqual(JSON.parse((await call('/things/chat%3Alobby')).body), { id: 'chat:lobby' });
  assert.deepEqual(JSON.parse((await call('/things/a%2Fb')).body), { id: 'a/b' });
  assert.deepEqual(JSON.parse((await call('/things/chat:lobby')).body), { id: 'chat:lobby' });
  const broken = await call('/things/%E0%A4%A');
  assert.equal(broken.status, 400);
  assert.equal(JSON.parse(broken.body).error.code, 'bad_path');
});

test('the method picks the route; another method gets 405 with Allow; HEAD follows GET', async () => {
  assert.equal((await call('/things/1', { method: 'POST' })).status, 201);
  const wrong = await call('/things/1', { method: 'DELETE' });
  assert.equal(wrong.status, 405);
  assert.equal(wrong.headers.get('allow'), 'GET, HEAD, POST');
  assert.deepEqual(JSON.parse(wrong.body).error.code, 'method_not_allowed');
  const head = await call('/things/1', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
});

test('unknown paths under an API prefix get a JSON 404; the rest go to the fallback', async () => {
  const missing = await call('/api/nope');
  assert.equal(missing.status, 404);
  assert.match(missing.headers.get('content-type') ?? '', /^application\/json/);
  assert.deepEqual(JSON.parse(missing.body), { error: { code: 'not_found', message: 'no route for /api/nope' } });
  assert.equal((await call('/things')).status, 418, 'a path with too few segments is not the route');
  assert.equal((await call('/elsewhere')).body, 'fallback');
});

/** A GET with `target` sent as it is (fetch would normalize it): the answer's status and body. */
function rawGet(target: string): Promise<{ status: number; body: string }> {
  const url = new URL(base);
  return within(
    new Promise((resolve, reject) => {
      const req = httpRequest({ host: url.hostname, port: url.port, path: target }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.once('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        response.once('error', reject);
      });
      req.once('error', reject);
      req.end();
    }),
    5_000,
    `GET ${target}`,
  );
}

test('a request-target that starts with "//" is that path, not a route of another host (a proxy guarding the route by path lets it through)', async () => {
  assert.equal((await rawGet('//evil.example/things/1')).body, 'fallback');
  assert.equal((await rawGet('//evil.example/api/nope')).body, 'fallback', 'not the API either');
  assert.deepEqual(JSON.parse((await rawGet('/things/1?x=1')).body), { id: '1' });
  assert.deepEqual(JSON.parse((await rawGet(`${base}/things/2`)).body), { id: '2' }, 'absolute-form names its path');
  assert.equal((await rawGet('*')).status, 400);
});

test('a request-target with dot segments (plain, percent-encoded, or behind a backslash) is refused 400, never normalized onto a route', async () => {
  for (const target of ['/x/../things/1', '/things/./1', '/x/%2e%2e/things/1', '/x/%2E./things/1', '/things/.%2e/things/1', '/x\\..\\things/1', '/api/x/../../things/1?a=1', `${base}/x/../things/1`]) {
    const answer = await rawGet(target);
    assert.equal(answer.status, 400, target);
    assert.equal(JSON.parse(answer.body).error.code, 'bad_path', target);
  }
  assert.deepEqual(JSON.parse((await rawGet('/things/..a')).body), { id: '..a' }, 'dots inside a segment are no dot segment');
  assert.deepEqual(JSON.parse((await rawGet('/things/1?next=/../x')).body), { id: '1' }, 'the query is not the path');
});

test('a route that throws or rejects answers 500 and names nothing internal', async () => {
  for (const path of ['/api/throws', '/api/rejects']) {
    const failed = await call(path);
    assert.equal(failed.status, 500);
    assert.deepEqual(JSON.parse(failed.body), { error: { code: 'internal', message: 'internal error' } });
  }
});

test('bodies: JSON in, empty allowed, 415 for another type, 400 for bad JSON, 413 over the limit', async () => {
  const json = { 'Content-Type': 'application/json' };
  assert.deepEqual(JSON.parse((await call('/api/echo', { method: 'POST', headers: json, body: '{"a":1}' })).body), { body: { a: 1 } });
  assert.deepEqual(JSON.parse((await call('/api/echo', { method: 'POST' })).body), { body: null });
  assert.equal((await call('/api/echo', { method: 'POST', body: '{"a":1}', headers: { 'Content-Type': 'text/plain' } })).status, 415);
  const bad = await call('/api/echo', { method: 'POST', headers: json, body: '{"a":' });
  assert.equal(bad.status, 400);
  assert.equal(JSON.parse(bad.body).error, 'bad_json');
  assert.equal((await call('/api/echo', { method: 'POST', headers: json, body: JSON.stringify({ a: 'x'.repeat(100) }) })).status, 413);
});

test('a streamed (chunked) body over the limit gets 413 too, without waiting for its end', async () => {
  const url = new URL(`${base}/api/echo`);
  const status = await within(
    new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'Content-Type': 'application/json' } }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
        req.destroy();
      });
      req.on('error', reject);
      req.write(`{"a":"${'x'.repeat(100)}`); // chunked, never ended: only the limit can answer it
    }),
    5_000,
    'the 413',
  );
  assert.equal(status, 413);
});

test('each request is observed once, labelled by its route pattern', async () => {
  observed.length = 0;
  await call('/things/42');
  await call('/api/none');
  await call('/x');
  await within(observedCount(3), 5_000, 'three observations');
  assert.deepEqual(observed, [
    { route: '/things/:id', status: 200 },
    { route: 'unmatched', status: 404 },
    { route: 'static', status: 418 },
  ]);
});
