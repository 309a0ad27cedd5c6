import { readdir, readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname } from 'node:path';

/** Where `npm run build` puts the pages, their stylesheets and the bundled scripts, next to dist/cli/. */
export const demoAssetsDir = new URL('../demo/public/', import.meta.url);

/** The pages read the WebSocket path from a meta tag; this token in their HTML is replaced at load. */
const WS_PATH_TOKEN = '%LIFELINE_WS_PATH%';

/** Pages also served under a clean path: `/` is the demo, `/admin` the admin dashboard. */
const pageRoutes: Readonly<Record<string, string>> = { 'index.html': '/', 'admin.html': '/admin' };

const contentTypes: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.map': 'application/json',
};

/**
 * Scripts and styles only from this origin; the WebSocket and the admin page's polling go to
 * this origin too. The pages have no inline script or style, so nothing needs 'unsafe-inline'.
 */
const CSP = "default-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export interface Asset {
  readonly body: Buffer;
  readonly type: string;
}

/**
 * Reads the demo files once at start (a few tens of kB; no disk access per request). Returns
 * the routes (`/`, `/admin` and every file by name); an empty map when the pages were not
 * built, which the caller reports.
 */
export async function loadDemoAssets(dir: URL, wsPath: string): Promise<ReadonlyMap<string, Asset>> {
  const routes = new Map<string, Asset>();
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return routes;
  }
  for (const name of names) {
    const type = contentTypes[extname(name)];
    if (type === undefined) continue;
    let body = await readFile(new URL(name, dir));
    if (extname(name) === '.html') body = Buffer.from(body.toString('utf8').replaceAll(WS_PATH_TOKEN, escapeHtml(wsPath)));
    const page = pageRoutes[name];
    if (page !== undefined) routes.set(page, { body, type });
    routes.set(`/${name}`, { body, type });
  }
  return routes;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

/**
 * The `onRequest` handler: GET/HEAD of a known route, 404 for the rest; never cached. (A plain
 * request to the WebSocket path never gets here: the server answers it as a bad handshake.)
 */
export function demoRequestHandler(routes: ReadonlyMap<string, Asset>): (request: IncomingMessage, response: ServerResponse) => void {
  return (request, response) => {
    const headers = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { ...headers, Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    const asset = routes.get(pathOf(request.url));
    if (asset === undefined) {
      response.writeHead(404, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    response.writeHead(200, {
      ...headers,
      'Content-Type': asset.type,
      'Content-Length': asset.body.length,
      'Content-Security-Policy': CSP,
      'Referrer-Policy': 'no-referrer',
    });
    response.end(request.method === 'HEAD' ? undefined : asset.body);
  };
}

function pathOf(url: string | undefined): string {
  try {
    return new URL(url ?? '/', 'http://localhost').pathname;
  } catch {
    return '';
  }
}
