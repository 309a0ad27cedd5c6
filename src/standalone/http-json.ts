import { isUtf8 } from 'node:buffer';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Headers on every JSON answer: never cached, never sniffed as something else. */
const BASE_HEADERS = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' } as const;

export function sendJson(response: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  const text = `${JSON.stringify(body)}\n`;
  response.writeHead(status, { ...BASE_HEADERS, ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}

/** The one error shape of every JSON route: `{"error": {"code", "message"}}`. */
export function sendError(response: ServerResponse, status: number, code: string, message: string, headers: Readonly<Record<string, string>> = {}): void {
  sendJson(response, status, { error: { code, message } }, headers);
}

export type BodyOutcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly status: 400 | 413 | 415; readonly code: string; readonly message: string };

/**
 * Reads a JSON request body of at most `limit` bytes. An empty body is `undefined` (the route
 * decides whether that is fine); a declared or streamed size over the limit is 413 without
 * reading further; a body that is not `application/json` in UTF-8 without a content coding is
 * 415; bad JSON, or bytes that are not UTF-8, 400 (decoded anyway, they would be published
 * with U+FFFD in place of what was sent).
 */
export async function readJsonBody(request: IncomingMessage, limit: number): Promise<BodyOutcome> {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > limit) return tooLarge(limit);
  const read = await new Promise<Buffer | undefined>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      // Not destroyed: the 413 still has to go out. The rest is discarded unread.
      request.off('data', onData).off('end', onEnd).off('error', onError);
      request.resume();
      resolve(undefined);
    };
    const onEnd = (): void => resolve(Buffer.concat(chunks));
    const onError = (error: Error): void => reject(error);
    request.on('data', onData).once('end', onEnd).once('error', onError);
  });
  if (read === undefined) return tooLarge(limit);
  if (read.length === 0) return { ok: true, value: undefined };
  if (!isJsonInUtf8(request)) {
    return { ok: false, status: 415, code: 'unsupported_media_type', message: 'send the body as JSON in UTF-8, uncompressed, with Content-Type: application/json' };
  }
  if (!isUtf8(read)) return { ok: false, status: 400, code: 'bad_json', message: 'the body is not valid UTF-8' };
  try {
    return { ok: true, value: JSON.parse(read.toString('utf8')) as unknown };
  } catch (error) {
    return { ok: false, status: 400, code: 'bad_json', message: `the body is not valid JSON (${error instanceof Error ? error.message : 'parse error'})` };
  }
}

function tooLarge(limit: number): BodyOutcome {
  return { ok: false, status: 413, code: 'too_large', message: `the body is larger than ${limit} bytes` };
}

/**
 * Whether the body is declared as JSON (RFC 8259: UTF-8 between systems) in a form read here:
 * `application/json`, with no charset but UTF-8 and no content coding but `identity`.
 */
function isJsonInUtf8(request: IncomingMessage): boolean {
  const [type, ...parameters] = (request.headers['content-type'] ?? '').split(';').map((part) => part.trim().toLowerCase());
  if (type !== 'application/json') return false;
  for (const parameter of parameters) {
    const [name, value] = parameter.split('=', 2).map((part) => part.trim());
    // `utf8` is a common misspelling of the name, not another encoding.
    if (name === 'charset' && !['utf-8', 'utf8'].includes(value?.replace(/^"(.*)"$/, '$1') ?? '')) return false;
  }
  const coding = (request.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  return coding === 'identity' || coding === '';
}
