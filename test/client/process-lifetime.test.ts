/**
 * In Node, a scheduled reconnect keeps the process running: a script awaiting `opened()` while
 * the client backs off gets its answer instead of Node ending the process (exit 13, "unsettled
 * top-level await"); keepalive and expiry timers alone still do not hold a process open, and
 * neither does a socket the client has let go of or disposed of.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startServer } from '../../src/testing/server-fixture.js';
import { killProcess, spawnTracked } from '../helpers/processes.js';
import { SilentProxy } from '../helpers/silent-proxy.js';
import { within } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Runs `source` in a child process; each time it prints a line `step`, `onStep` runs (the test
 * acts on the link) and the child's stdin gets a line back (`await next()` in the script).
 */
function runScript(source: string, onStep: () => void = () => undefined, ms = 30_000): Promise<{ code: number | null; stdout: string }> {
  const child = spawnTracked(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', source], { cwd: ROOT });
  child.stderr.pipe(process.stderr);
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => {
    const before = stdout.split('\n').filter((line) => line === 'step').length;
    stdout += chunk.toString();
    const steps = stdout.split('\n').filter((line) => line === 'step').length;
    for (let i = before; i < steps; i++) {
      onStep();
      child.stdin.end('go\n');
    }
  });
  const exited = new Promise<{ code: number | null; stdout: string }>((resolve) => child.once('close', (code) => resolve({ code, stdout })));
  return within(exited, ms, 'the script to exit').finally(() => killProcess(child));
}

/** The script's side of a step: print `step`, wait for the test's answer on stdin. */
const next = `const next = () => { console.log('step'); return new Promise((resolve) => process.stdin.once('data', resolve)); };`;

test('awaiting opened() through backoffs settles: the process is not ended under it', async () => {
  const result = await runScript(`
    import { ReconnectingWebSocket } from './src/client/node.ts';
    const ws = new ReconnectingWebSocket('ws://127.0.0.1:1/', undefined, { maxAttempts: 3, initialDelay: 200 });
    try { await ws.opened(); console.log('opened'); } catch (error) { console.log('gave up', error.code); }
  `);
  assert.deepEqual(result, { code: 0, stdout: 'gave up ERR_CONNECTION_CLOSED\n' });
});

// ws waits up to 30 s for the server to answer a close frame, holding the socket and a timer;
// on a link that went silent (a network gone without a reset) no answer comes. The scripts
// below end well within that (the bound is 15 s), or the socket held them.
for (const [what, script] of [
  [
    'LifelineClient.close() on a silent link',
    `import { LifelineClient } from './src/client/node.ts';
     const client = new LifelineClient(URL, { heartbeat: false });
     await client.ready();
     await next();
     client.close();
     console.log('closed', client.state);`,
  ],
  [
    'ReconnectingWebSocket: reconnect() then close() on a silent link (the socket let go of by reconnect())',
    `import { ReconnectingWebSocket } from './src/client/node.ts';
     const ws = new ReconnectingWebSocket(URL);
     await ws.opened();
     await next();
     ws.reconnect();
     ws.close();
     console.log('closed', ws.state);`,
  ],
  [
    'ReconnectingWebSocket: close() then reconnect() then dispose() on a silent link (the closing socket let go of by reconnect())',
    `import { ReconnectingWebSocket } from './src/client/node.ts';
     const ws = new ReconnectingWebSocket(URL);
     await ws.opened();
     await next();
     ws.close();
     ws.reconnect();
     ws.dispose();
     console.log('closed', ws.state);`,
  ],
] as const) {
  test(`${what} lets the process end without waiting for the server's answer`, async () => {
    const fixture = await startServer({ pingInterval: 0 });
    const proxy = await SilentProxy.start('127.0.0.1', fixture.port);
    try {
      const source = `${next}\nconst URL = 'ws://127.0.0.1:${proxy.port}/ws';\n${script}`;
      const result = await runScript(source, () => proxy.silence(), 15_000);
      assert.equal(result.code, 0);
      assert.match(result.stdout, /^step\nclosed (closed|closing)\n$/);
    } finally {
      await proxy.stop();
      await fixture.close();
    }
  });
}
