// A client that goes away in the middle of its request body is not a server fault: no error line.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { pino } from 'pino';
import { createStandalone } from '../../src/standalone/standalone.js';
import { eventually } from '../helpers/wait.js';

test('a publish whose body the client abandons is logged at debug, not as a failed route', async (t) => {
  const lines: { level: number; msg: string }[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as { level: number; msg: string }) });
  const key = 'k'.repeat(32);
  const standalone = createStandalone({ port: 0, allowAnonymous: true, apiKey: key, pingInterval: 0 }, { log });
  const { port } = await standalone.server.listen();
  t.after(async () => {
    await standalone.server.close({ drainTimeout: 0 });
    await standalone.close();
  });
  let requests = 0;
  standalone.server.httpServer.on('request', () => requests++);
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.write(`POST /api/v1/channels/chat:lobby/publish HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"data":`);
  // Its headers are read (the route is reading the body) before the client goes away.
  await eventually(() => requests === 1, 'the request read');
  socket.destroy();
  await eventually(() => lines.some((line) => line.msg === 'HTTP request abandoned by the client' || line.msg === 'HTTP route failed'), 'the abandoned request noticed');
  assert.equal(lines.filter((line) => line.level >= 50).length, 0, `no error line: ${JSON.stringify(lines.filter((line) => line.level >= 50))}`);
});
