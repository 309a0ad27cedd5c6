/**
 * What a pong waiting behind a peer that does not read holds: its own few bytes, not the chunk
 * its ping was read in (ws hands the ping's payload over as a view into that chunk). The server
 * runs in a child process so that only its memory is measured (the paused client's would count
 * too in one process).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildFrame, Opcode, RawSocket } from '../helpers/raw-socket.js';
import { killAll, spawnTracked } from '../helpers/processes.js';

const SERVER_FLAG = '--pong-memory-server';

interface Reading {
  readonly arrayBuffers: number;
  readonly received: number;
  readonly buffered: number;
  readonly state: string;
  readonly port?: number;
}

if (process.argv.includes(SERVER_FLAG)) {
  await serverProcess();
} else {
  after(killAll);
  test('a pong waiting behind a peer that does not read holds its own few bytes, not the 64 KB chunk its ping came in', async (t) => {
    const child = spawnTracked(process.execPath, ['--import', 'tsx', '--expose-gc', fileURLToPath(import.meta.url), SERVER_FLAG]);
    t.after(() => child.kill('SIGKILL'));
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const ask = async (command: string): Promise<Reading> => {
      child.stdin.write(`${command}\n`);
      const line = await lines.next();
      assert.ok(!line.done, 'the server process answered');
      return JSON.parse(line.value as string) as Reading;
    };
    const { port } = JSON.parse((await lines.next()).value as string) as Reading;
    const { raw } = await RawSocket.upgrade(port ?? 0);
    t.after(() => raw.destroy());
    raw.pause();
    // The server fills the loopback with its own messages until it holds what it writes: every
    // pong after this waits in its memory.
    const filled = await ask('fill');
    assert.ok(filled.buffered > 0, 'the server holds writes');
    const before = await ask('measure');
    // Each ping behind 64 KB of binary data, in one chunk as ws reads it.
    const pair = Buffer.concat([buildFrame(Opcode.BINARY, Buffer.alloc(64 * 1024 - 20)), buildFrame(Opcode.PING, 'p')]);
    for (let i = 0; i < 400; i++) if (!raw.socket.write(pair)) await once(raw.socket, 'drain');
    let now = await ask('measure');
    for (let i = 0; i < 2_000 && now.received < 400; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      now = await ask('measure');
    }
    assert.equal(now.received, 400, 'the server read every message');
    assert.equal(now.state, 'open', 'the pongs stay within the budget');
    const held = now.arrayBuffers - before.arrayBuffers;
    // 400 chunks of 64 KB would be 26 MB; a few read buffers may still be held.
    assert.ok(held < 8 * 1024 * 1024, `the server holds ${held} bytes of buffers`);
  });
}

/** The child: a server on port 0 that fills its one connection on `fill` and reports on `measure`. */
async function serverProcess(): Promise<void> {
  const { startServer } = await import('../../src/testing/server-fixture.js');
  const fixture = await startServer({ outboundBudget: 16 * 1024 * 1024, maxMessageRate: Infinity, binary: 'allow', pingInterval: 0 });
  let received = 0;
  fixture.server.on('binary', () => received++);
  const connection = () => [...fixture.server.connections][0];
  const report = (extra: Partial<Reading> = {}): void => {
    const conn = connection();
    process.stdout.write(`${JSON.stringify({ arrayBuffers: process.memoryUsage().arrayBuffers, received, buffered: conn?.bufferedAmount ?? 0, state: conn?.state ?? 'none', ...extra })}\n`);
  };
  report({ port: fixture.port });
  const gc = (globalThis as { gc?: () => void }).gc;
  for await (const command of createInterface({ input: process.stdin })) {
    if (command === 'fill') {
      const filler = JSON.stringify({ type: 'fill', data: 'x'.repeat(60_000) });
      for (let i = 0; i < 2_000 && (connection()?.bufferedAmount ?? 1) === 0; i++) {
        connection()?.send(filler);
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    await new Promise((resolve) => setImmediate(resolve));
    gc?.();
    report();
  }
}
