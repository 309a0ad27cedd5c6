/**
 * Node side of the browser tests: a Lifeline server that also serves the test page and the
 * bundles (same origin as its WebSocket endpoint), and helpers that wait on what the page logs.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pino } from 'pino';
import type { Page } from 'playwright-core';
import { createServer, type LifelineServer } from '../../src/server/server.js';
import type { ServerOptions } from '../../src/server/options.js';
import type { CloseReport } from '../../src/server/connection.js';
import type { Envelope } from '../../src/core/envelope.js';
import { startServer, type ServerFixture } from '../../src/testing/server-fixture.js';
import { after, before } from 'node:test';
import { browserSkip, launchBrowser, type LaunchedBrowser } from '../helpers/browser.js';
import { bundleClient, bundleHarness } from './build.js';
import type { LogEntry, PageClientOptions } from './page-harness.js';

export interface Assets {
  readonly client: string;
  readonly harness: string;
}

export async function buildAssets(): Promise<Assets> {
  const [client, harness] = await Promise.all([bundleClient(), bundleHarness()]);
  return { client: client.code, harness };
}

const pageHtml = `<!doctype html>
<html><head><meta charset="utf-8"><title>lifeline browser test</title></head>
<body><script src="/client.js"></script><script src="/harness.js"></script></body></html>
`;

/** `onRequest` for the server: the page at '/', the client bundle at '/client.js', the page harness at '/harness.js'. */
export function serveAssets(assets: Assets): (request: IncomingMessage, response: ServerResponse) => void {
  return (request, response) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    const body = path === '/' ? pageHtml : path === '/client.js' ? assets.client : path === '/harness.js' ? assets.harness : undefined;
    if (body === undefined) {
      response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    const type = path === '/' ? 'text/html' : 'text/javascript';
    response.writeHead(200, { 'Content-Type': `${type}; charset=utf-8`, 'Cache-Control': 'no-store' }).end(body);
  };
}

export function startPageServer(assets: Assets, options: ServerOptions = {}): Promise<ServerFixture<unknown>> {
  return startServer({ onRequest: serveAssets(assets), ...options });
}

/** A new server on the port a stopped one used (same origin for the page). */
export async function restartServer(port: number, assets: Assets, options: ServerOptions = {}): Promise<LifelineServer> {
  const server = createServer({ port, host: '127.0.0.1', onRequest: serveAssets(assets), logger: pino({ level: 'silent' }), ...options });
  await server.listen();
  return server;
}

/** Loads the test page and starts the page's client against `wsUrl`. */
export async function startPageClient(page: Page, baseUrl: string, wsUrl: string, options: PageClientOptions): Promise<void> {
  await page.goto(`${baseUrl}/`);
  await page.evaluate(([url, opts]) => window.harness.start(url, opts), [wsUrl, options] as const);
}

export function pageLog(page: Page): Promise<LogEntry[]> {
  return page.evaluate(() => window.harness.log);
}

function describeLog(log: readonly LogEntry[]): string {
  return log
    .map((e) => {
      const { type, t, state, ...rest } = e;
      return `  ${t.toFixed(0).padStart(6)} ms  ${type.padEnd(16)} [${state}] ${JSON.stringify(rest)}`;
    })
    .join('\n');
}

/**
 * Waits (polling the page every 20 ms, with the page's timers) for a log entry at or after
 * index `from` that has all of `match`'s fields; returns it with its index. On timeout the error
 * carries the page's whole log.
 */
export async function waitForEntry(
  page: Page,
  match: Partial<LogEntry>,
  { from = 0, timeout = 5000 }: { from?: number; timeout?: number } = {},
): Promise<LogEntry & { readonly index: number }> {
  try {
    const handle = await page.waitForFunction(
      ([m, start]) => {
        const index = window.harness.find(m, start);
        return index < 0 ? undefined : { ...window.harness.log[index], index };
      },
      [match, from] as const,
      { polling: 20, timeout },
    );
    const found = await handle.jsonValue();
    await handle.dispose();
    if (!found || found.type === undefined) throw new Error('no entry');
    return found as LogEntry & { readonly index: number };
  } catch (error) {
    const log = await pageLog(page).catch(() => []);
    throw new Error(`no page log entry ${JSON.stringify(match)} from #${from} within ${timeout} ms; the log:\n${describeLog(log)}`, {
      cause: error,
    });
  }
}

/** Collects what a server emits and lets a test wait, event-driven, until a condition holds. */
export class Recorder<T> {
  readonly items: T[] = [];
  #wake: (() => void)[] = [];

  push = (item: T): void => {
    this.items.push(item);
    for (const wake of this.#wake.splice(0)) wake();
  };

  /** Resolves once `done(items)` is true; rejects after `timeout` ms saying what was awaited. */
  until(done: (items: readonly T[]) => boolean, what: string, timeout = 5000): Promise<readonly T[]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#wake = this.#wake.filter((w) => w !== check);
        reject(new Error(`timed out after ${timeout} ms waiting for ${what}; got ${JSON.stringify(this.items)}`));
      }, timeout);
      const check = (): void => {
        if (done(this.items)) {
          clearTimeout(timer);
          resolve(this.items);
        } else {
          this.#wake.push(check);
        }
      };
      check();
    });
  }
}

/** Every envelope the server receives, in arrival order. */
export function recordMessages(server: LifelineServer): Recorder<Envelope> {
  const recorder = new Recorder<Envelope>();
  server.on('message', (_connection, message) => recorder.push(message));
  return recorder;
}

/** Every close report of the server's connections. */
export function recordCloses(server: LifelineServer): Recorder<CloseReport> {
  const recorder = new Recorder<CloseReport>();
  server.on('disconnect', (_connection, report) => recorder.push(report));
  return recorder;
}

/** Counts WebSocket upgrade requests (every connection attempt that reached the server). */
export function countHandshakes(server: LifelineServer): { readonly count: number } {
  const counter = { count: 0 };
  server.httpServer.on('upgrade', () => counter.count++);
  return counter;
}

/** Launches Chromium and builds the page assets once per suite, and closes the browser after it. */
export function browserSuite(): () => { readonly launched: LaunchedBrowser; readonly assets: Assets } {
  let launched: LaunchedBrowser | undefined;
  let assets: Assets | undefined;
  before(async () => {
    if (browserSkip) return;
    [launched, assets] = await Promise.all([launchBrowser(), buildAssets()]);
  });
  after(() => launched?.close());
  return () => {
    if (!launched || !assets) throw new Error('the browser was not launched');
    return { launched, assets };
  };
}
