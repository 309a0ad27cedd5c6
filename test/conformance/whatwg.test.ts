/**
 * WHATWG conformance in Node: every case of cases.ts runs against undici's WebSocket (Node's own;
 * behind --experimental-websocket on Node 20, global from 22) and against ReconnectingWebSocket
 * driving that same WebSocket, in a child process. Results must be equal, except the documented
 * deviations (by name), and where this undici strays from the standard (then ReconnectingWebSocket
 * must give the standard's result).
 */
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cases } from './cases.js';
import { assertCase } from './compare.js';
import type { CaseResults } from './run-cases.js';
import { startCaseServer, type CaseServer } from './server.js';
import { spawnTracked } from '../helpers/processes.js';

const child = fileURLToPath(new URL('./node-child.ts', import.meta.url));
const root = fileURLToPath(new URL('../..', import.meta.url));

const isCloseEvent = typeof CloseEvent === 'function' ? true : 'no CloseEvent global';

/** What the standard says where some undici versions say otherwise (no CloseEvent global on Node 20). */
const standard: Record<string, unknown> = {
  // WHATWG: a reason given without a code closes with 1000 (undici in Node 20 sends no code).
  'client close with a reason and no code': { type: 'close', code: 1000, reason: 'client done', wasClean: true, isCloseEvent },
  // WebIDL [LegacyTreatNonObjectAsNull]: an object is kept, a non-object is null (undici nulls both).
  'non-callable handler': { read: [{}, null], kept: true },
  // WHATWG: an unknown value is ignored (older undici resets to 'blob').
  'unknown binaryType ignored': 'arraybuffer',
  // WHATWG: CLOSING at once, then an error and a 1006 close (older undici fires error twice and no close).
  'close while connecting': {
    readyState: 2,
    events: ['error'],
    close: { type: 'close', code: 1006, reason: '', wasClean: false, isCloseEvent },
  },
  // WHATWG: CLOSED, then error, then close (older undici fires error twice, at CONNECTING and CLOSING, and no close).
  'close while connecting: readyState as each event fires': [
    ['error', 3],
    ['close', 3],
  ],
  // WHATWG: send() while CLOSING or CLOSED adds the data to bufferedAmount (undici adds nothing).
  'send while closing and after close': { closing: 'none', grown: 4, close: 'close', closed: 'none', total: 9 },
  'server close frame, TCP held open: the closing handshake': {
    readyState: 2,
    send: 'none',
    grown: 4,
    seen: [['close', 3]],
    close: { type: 'close', code: 1000, reason: 'held', wasClean: true, isCloseEvent },
    after: 3,
    grownAfter: 4,
  },
};

function runChild(base: string): Promise<CaseResults> {
  const flags = typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'function' ? [] : ['--experimental-websocket'];
  return new Promise((resolve, reject) => {
    const proc = spawnTracked(process.execPath, [...flags, '--import', 'tsx', child, base], { cwd: root });
    proc.stdin.end();
    let out = '';
    let err = '';
    const timer = setTimeout(() => proc.kill('SIGKILL'), 90_000);
    proc.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    proc.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    proc.on('error', reject);
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`conformance child ended with ${code ?? signal}: ${err}`));
      else resolve(JSON.parse(out) as CaseResults);
    });
  });
}

describe('WHATWG conformance in Node: ReconnectingWebSocket against undici', () => {
  let server: CaseServer;
  let results: CaseResults;
  before(async () => {
    server = await startCaseServer();
    results = await runChild(server.url);
  });
  after(() => server.close());

  for (const { name } of cases) {
    test(name, () => assertCase(name, results, standard));
  }
});
