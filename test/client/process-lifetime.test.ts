/**
 * In Node, a scheduled reconnect keeps the process running: a script awaiting `opened()` while
 * the client backs off gets its answer instead of Node ending the process (exit 13, "unsettled
 * top-level await"); keepalive and expiry timers alone still do not hold a process open.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { killProcess, spawnTracked } from '../helpers/processes.js';
import { within } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function runScript(source: string): Promise<{ code: number | null; stdout: string }> {
  const child = spawnTracked(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', source], { cwd: ROOT });
  child.stdin.end();
  child.stderr.pipe(process.stderr);
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const exited = new Promise<{ code: number | null; stdout: string }>((resolve) => child.once('close', (code) => resolve({ code, stdout })));
  return within(exited, 30_000, 'the script to exit').finally(() => killProcess(child));
}

test('awaiting opened() through backoffs settles: the process is not ended under it', async () => {
  const result = await runScript(`
    import { ReconnectingWebSocket } from './src/client/node.ts';
    const ws = new ReconnectingWebSocket('ws://127.0.0.1:1/', undefined, { maxAttempts: 3, initialDelay: 200 });
    try { await ws.opened(); console.log('opened'); } catch (error) { console.log('gave up', error.code); }
  `);
  assert.deepEqual(result, { code: 0, stdout: 'gave up ERR_CONNECTION_CLOSED\n' });
});
