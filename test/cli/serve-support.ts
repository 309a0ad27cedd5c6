// Helpers for the `lifeline serve` tests (not a test file): the API key, HTTP calls, refused upgrades
// (tokens: test/helpers/jwt.ts).
import { WebSocket } from 'ws';
import { within } from '../helpers/wait.js';

export const API_KEY = 'serve-test-api-key-0123456789';

/** Seconds since the epoch, as JWT claims count. */
export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

export interface JsonResponse {
  readonly status: number;
  readonly headers: Headers;
  // The parsed body; tests read into it freely.
  readonly body: Record<string, unknown>;
  readonly text: string;
}

/** One HTTP call with a deadline; the body parsed as JSON when it is JSON. */
export async function call(url: string, init: RequestInit & { json?: unknown } = {}): Promise<JsonResponse> {
  const { json, ...rest } = init;
  const request: RequestInit = json === undefined ? rest : { ...rest, body: JSON.stringify(json), headers: { 'Content-Type': 'application/json', ...(rest.headers as Record<string, string> | undefined) } };
  const response = await within(fetch(url, request), 5_000, `${init.method ?? 'GET'} ${url}`);
  const text = await response.text();
  const isJson = (response.headers.get('content-type') ?? '').startsWith('application/json');
  return { status: response.status, headers: response.headers, body: isJson && text !== '' ? (JSON.parse(text) as Record<string, unknown>) : {}, text };
}

/** The `{"error": {"code"}}` of a JSON error answer. */
export function errorCode(response: JsonResponse): unknown {
  return (response.body.error as { code?: unknown } | undefined)?.code;
}

/** The HTTP status (and body) a WebSocket upgrade to `url` is refused with. */
export async function refusal(url: string, options: { protocols?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; body: string }> {
  const ws = new WebSocket(url, options.protocols ?? [], { headers: options.headers ?? {} });
  try {
    return await within(
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        ws.once('unexpected-response', (_request, response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (body += chunk));
          response.once('end', () => resolve({ status: response.statusCode ?? 0, body }));
        });
        ws.once('open', () => reject(new Error(`${url} accepted the upgrade`)));
        ws.once('error', reject);
      }),
      5_000,
      `the upgrade to ${url} to be refused`,
    );
  } finally {
    ws.terminate();
  }
}
