// `lifeline serve` end to end: the page, the chat endpoint, and a graceful SIGTERM shutdown.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startServe, stopAll, TestClient, within, type RunningServer } from './harness.js';

let server: RunningServer;
let ada: TestClient;
let bob: TestClient;

before(async () => {
  server = await startServe(['--port', '0']);
});
after(async () => {
  ada?.ws.terminate();
  bob?.ws.terminate();
  await stopAll();
});

async function get(path: string, init?: RequestInit): Promise<Response> {
  return within(5_000, `GET ${path}`, fetch(`${server.url}${path}`, init));
}

test('prints exactly one "listening on" line with the real port, on 127.0.0.1', async () => {
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.notEqual(server.url, 'http://127.0.0.1:0');
  assert.equal(server.stdout(), `listening on ${server.url}\n`);
  await server.stderrIncludes('"msg":"listening"'); // logs go to stderr as JSON lines
});

test('serves the demo page, its script and stylesheet, never cached', async () => {
  const page = await get('/');
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  assert.equal(page.headers.get('cache-control'), 'no-store');
  const html = await page.text();
  assert.match(html, /<meta name="lifeline-endpoint" content="\/ws">/);
  assert.match(html, /src="\/client\.js"/);

  const script = await get('/client.js');
  assert.equal(script.status, 200);
  assert.match(script.headers.get('content-type') ?? '', /^text\/javascript/);
  assert.equal(script.headers.get('cache-control'), 'no-store');
  assert.ok((await script.text()).length > 1000, 'the bundled client');

  const css = await get('/style.css');
  assert.equal(css.status, 200);
  assert.match(css.headers.get('content-type') ?? '', /^text\/css/);
  await css.arrayBuffer();
});

test('answers 404 for unknown paths, 400 for a plain GET of the endpoint, 405 for other methods', async () => {
  const missing = await get('/nope');
  assert.equal(missing.status, 404);
  assert.equal(missing.headers.get('cache-control'), 'no-store');
  await missing.arrayBuffer();
  const plain = await get('/ws');
  assert.equal(plain.status, 400, 'a GET without Upgrade on the endpoint is a malformed handshake');
  await plain.arrayBuffer();
  const post = await get('/', { method: 'POST', body: 'x' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD');
  await post.arrayBuffer();
});

test('welcomes each connection and tells everyone who is online', async () => {
  ada = await TestClient.connect(server.wsUrl());
  const welcomeA = await ada.ofType('welcome');
  assert.equal(typeof welcomeA.id, 'string');
  assert.equal(welcomeA.online, 1);
  await ada.next((m) => m.type === 'presence' && m.online === 1, 'presence 1');

  bob = await TestClient.connect(server.wsUrl());
  const welcomeB = await bob.ofType('welcome');
  assert.equal(welcomeB.online, 2);
  assert.notEqual(welcomeB.id, welcomeA.id);
  await ada.next((m) => m.type === 'presence' && m.online === 2, 'presence 2 at ada');
});

test('broadcasts a chat message to every client, trimmed and stamped', async () => {
  const before = Date.now();
  ada.send({ type: 'chat', name: ' ada ', text: '  hello, bob  ' });
  const atBob = await bob.ofType('chat');
  const atAda = await ada.ofType('chat');
  assert.deepEqual({ ...atBob, at: 0 }, { type: 'chat', name: 'ada', text: 'hello, bob', at: 0 });
  assert.deepEqual(atAda, atBob);
  assert.equal(typeof atBob.at, 'number');
  assert.ok((atBob.at as number) >= before - 1000 && (atBob.at as number) <= Date.now() + 1000);
});

test('rejects a bad chat message with a bad_chat error and keeps the connection open', async () => {
  const bad = [
    { type: 'chat', name: 'bob', text: '' },
    { type: 'chat', name: 'bob', text: '   ' },
    { type: 'chat', name: 'bob', text: 'x'.repeat(501) },
    { type: 'chat', name: '', text: 'hi' },
    { type: 'chat', name: 'n'.repeat(41), text: 'hi' },
    { type: 'chat', text: 'no name' },
    { type: 'chat', name: 'bob', text: 42 },
  ];
  for (const message of bad) {
    bob.send(message);
    const error = await bob.ofType('error');
    assert.equal(error.code, 'bad_chat', JSON.stringify(message));
    assert.equal(typeof error.message, 'string');
  }
  bob.send({ type: 'chat', name: 'bob', text: 'x'.repeat(500) });
  const ok = await ada.ofType('chat');
  assert.equal((ok.text as string).length, 500);
  await bob.ofType('chat');
  assert.equal(ada.messages.filter((m) => m.type === 'chat').length, 0, 'no bad message was broadcast');
});

test('answers an unknown message type with an error and stays open', async () => {
  bob.send({ type: 'nonsense' });
  const error = await bob.ofType('error');
  assert.equal(error.code, 'unknown_type');
  bob.send({ type: 'chat', name: 'bob', text: 'still here' });
  await ada.next((m) => m.type === 'chat' && m.text === 'still here', 'chat after the error');
});

test('debug.drop cuts only the asking connection, without a close frame', async () => {
  const carol = await TestClient.connect(server.wsUrl());
  await carol.ofType('welcome');
  await ada.next((m) => m.type === 'presence' && m.online === 3, 'presence 3');
  const closed = carol.closed();
  carol.send({ type: 'debug.drop' });
  assert.equal((await closed).code, 1006);
  await ada.next((m) => m.type === 'presence' && m.online === 2, 'presence back to 2');
});

test('SIGTERM closes every client with 1012 and a retry hint, then exits 0', async () => {
  const adaClosed = ada.closed();
  const bobClosed = bob.closed();
  server.child.kill('SIGTERM');
  for (const close of [await adaClosed, await bobClosed]) {
    assert.equal(close.code, 1012);
    assert.match(close.reason, /retry after \d+ ms/);
  }
  const exit = await within(15_000, 'the server to exit', server.exited);
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.equal(server.stdout(), `listening on ${server.url}\n`, 'nothing else on stdout');
  assert.match(server.stderr(), /shut down cleanly/);
});
