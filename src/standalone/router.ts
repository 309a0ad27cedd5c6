import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { hasDotSegment, targetUrl } from '../server/request-target.js';
import { sendError } from './http-json.js';

export interface RouteContext {
  readonly request: IncomingMessage;
  readonly response: ServerResponse;
  readonly url: URL;
  /** The `:name` segments of the route's path, URL-decoded. */
  readonly params: Readonly<Record<string, string>>;
}

export interface Route {
  /** GET routes answer HEAD too. */
  readonly method: 'GET' | 'POST';
  /** Like `/api/v1/channels/:channel/publish`: a `:name` segment captures one URL-decoded path segment. */
  readonly path: string;
  handle(context: RouteContext): void | Promise<void>;
}

export interface RouterOptions {
  /** Everything no route claims (the demo page and its assets). */
  readonly fallback: (request: IncomingMessage, response: ServerResponse) => void;
  /** Paths under these prefixes belong to JSON APIs: unmatched ones get a JSON 404 or 405, never the fallback. */
  readonly apiPrefixes: readonly string[];
  readonly log: Logger;
  /**
   * Called once per request when its response is done, or the connection closed before it was
   * (the client went away, or its body timed out): for latency metrics, labelled by route
   * pattern and status, {@link ABORTED} for a request with no whole answer.
   */
  readonly observe?: (route: string, status: number | typeof ABORTED, seconds: number) => void;
}

interface Compiled {
  readonly route: Route;
  readonly segments: readonly string[];
}

/** The label for requests no route matched. */
export const UNMATCHED = 'unmatched';
/** The label for requests handed to the fallback. */
export const FALLBACK = 'static';
/** The status of a request whose connection closed before its answer was written whole. */
export const ABORTED = 'aborted';

/**
 * A small method-and-path router for the standalone server's HTTP side: exact segments and
 * `:params`, 405 with `Allow` for a known path with the wrong method, and a handler that throws
 * becomes a 500 that names nothing internal.
 */
export function createRouter(routes: readonly Route[], options: RouterOptions): (request: IncomingMessage, response: ServerResponse) => void {
  const compiled: Compiled[] = routes.map((route) => ({ route, segments: route.path.split('/') }));
  return (request, response) => {
    const started = process.hrtime.bigint();
    let label = UNMATCHED;
    if (options.observe) {
      const observe = options.observe;
      // A response that never finished has a status nobody got (200 until a handler sets one).
      response.once('close', () => observe(label, response.writableFinished ? response.statusCode : ABORTED, Number(process.hrtime.bigint() - started) / 1e9));
    }
    const target = request.url ?? '/';
    const url = targetUrl(target);
    if (url === undefined) {
      sendError(response, 400, 'bad_request', 'the request target is not a valid path');
      return;
    }
    if (hasDotSegment(target)) {
      sendError(response, 400, 'bad_path', 'the path has a "." or ".." segment (or a backslash): it is not resolved here');
      return;
    }
    const segments = url.pathname.split('/');
    const allowed = new Set<string>();
    for (const { route, segments: pattern } of compiled) {
      const params = matchSegments(pattern, segments);
      if (params === undefined) continue;
      if (params === null) {
        label = route.path;
        sendError(response, 400, 'bad_path', 'a path segment is not valid percent-encoding');
        return;
      }
      if (route.method === request.method || (route.method === 'GET' && request.method === 'HEAD')) {
        label = route.path;
        run(route, { request, response, url, params }, options.log);
        return;
      }
      label = route.path;
      allowed.add(route.method);
      if (route.method === 'GET') allowed.add('HEAD');
    }
    if (allowed.size > 0) {
      const allow = [...allowed].join(', ');
      sendError(response, 405, 'method_not_allowed', `${request.method ?? '?'} is not allowed here; use ${allow}`, { Allow: allow });
      return;
    }
    if (options.apiPrefixes.some((prefix) => url.pathname.startsWith(prefix))) {
      sendError(response, 404, 'not_found', `no route for ${url.pathname}`);
      return;
    }
    label = FALLBACK;
    options.fallback(request, response);
  };
}

/** The params when `path` fits `pattern`; undefined when it does not; null for a segment that does not decode. */
function matchSegments(pattern: readonly string[], path: readonly string[]): Record<string, string> | undefined | null {
  if (pattern.length !== path.length) return undefined;
  const params: Record<string, string> = {};
  let broken = false;
  for (let i = 0; i < pattern.length; i++) {
    const want = pattern[i] ?? '';
    const got = path[i] ?? '';
    if (!want.startsWith(':')) {
      if (want !== got) return undefined;
      continue;
    }
    if (got === '') return undefined;
    try {
      params[want.slice(1)] = decodeURIComponent(got);
    } catch {
      broken = true;
    }
  }
  return broken ? null : params;
}

function run(route: Route, context: RouteContext, log: Logger): void {
  const fail = (error: unknown): void => {
    // The client went away before its request was whole (its body cut short): nothing failed
    // here, and a client can do that at will, so it is no error line.
    if ((error as { code?: unknown } | undefined)?.code === 'ECONNRESET' && context.request.destroyed) {
      log.debug({ route: route.path }, 'HTTP request abandoned by the client');
      context.response.destroy();
      return;
    }
    log.error({ err: error, route: route.path }, 'HTTP route failed');
    if (!context.response.headersSent) sendError(context.response, 500, 'internal', 'internal error');
    else context.response.destroy();
  };
  try {
    const result = route.handle(context);
    if (result instanceof Promise) result.catch(fail);
  } catch (error) {
    fail(error);
  }
}
