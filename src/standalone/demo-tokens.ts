import { createHmac, randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { z } from 'zod';
import { sendError, sendJson } from './http-json.js';
import type { Route } from './router.js';

export const DEMO_TTL = { default: 300, min: 5, max: 3600 } as const;

/** What a `visitor` key may be: a random secret the visitor keeps (the demo page makes 32 hex digits). */
const VISITOR_PATTERN = /^[A-Za-z0-9_-]{16,128}$/;

const demoQuery = z.object({
  user: z.string({ error: 'user is required' }).regex(/^[A-Za-z0-9 _-]{1,32}$/, 'user must be 1-32 characters of A-Z a-z 0-9 space _ -'),
  ttl: z
    .string()
    .regex(/^\d+$/, `ttl must be an integer from ${DEMO_TTL.min} to ${DEMO_TTL.max} (seconds)`)
    .transform(Number)
    .pipe(z.number().min(DEMO_TTL.min, `ttl must be at least ${DEMO_TTL.min} seconds`).max(DEMO_TTL.max, `ttl must be at most ${DEMO_TTL.max} seconds`))
    .optional(),
  visitor: z.string().regex(VISITOR_PATTERN, 'visitor must be 16-128 characters of A-Z a-z 0-9 _ -').optional(),
});

export interface DemoTokenIssuer {
  /** The HS256 secret the server also verifies with. */
  readonly secret: Uint8Array;
  /** Claims the server checks, so demo tokens pass them. */
  readonly audience?: string;
  readonly issuer?: string;
  /** Wall-clock ms. */
  readonly now?: () => number;
}

/**
 * The subject of a demo token: the name, `~`, and a tag of 12 hex digits. The tag is an HMAC of
 * the visitor's own key (the same visitor keeps one subject across tokens, so refreshes and
 * resumes work), or random without one. Nobody can get a token for someone else's subject
 * without their key, so nobody fills another visitor's per-user limits (`maxSessionsPerUser`).
 */
export function demoSubject(secret: Uint8Array, user: string, visitor: string | undefined): string {
  const tag = visitor === undefined ? randomBytes(6).toString('hex') : createHmac('sha256', secret).update(`lifeline demo visitor\0${visitor}`).digest('hex').slice(0, 12);
  return `${user}~${tag}`;
}

/** Signs a demo token: `sub` is {@link demoSubject}, `name` the name to show, `exp` is `ttl` seconds from now. */
export async function issueDemoToken(issuer: DemoTokenIssuer, user: string, ttl: number, visitor?: string): Promise<{ readonly token: string; readonly user: string; readonly id: string; readonly expiresAt: number }> {
  const now = (issuer.now ?? Date.now)();
  const seconds = Math.floor(now / 1000);
  const expiresAt = (seconds + ttl) * 1000;
  const id = demoSubject(issuer.secret, user, visitor);
  let jwt = new SignJWT({ name: user }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setSubject(id).setIssuedAt(seconds).setExpirationTime(seconds + ttl);
  if (issuer.audience !== undefined) jwt = jwt.setAudience(issuer.audience);
  if (issuer.issuer !== undefined) jwt = jwt.setIssuer(issuer.issuer);
  return { token: await jwt.sign(issuer.secret), user, id, expiresAt };
}

/**
 * `GET /demo/token?user=NAME&ttl=SECONDS&visitor=KEY` (demo mode only): anyone may name
 * themselves, so this is for trying Lifeline out, never for production. Answers
 * `{"token","user","id","expiresAt"}`: `id` is the token's subject (see {@link demoSubject}).
 */
export function demoTokenRoute(issuer: DemoTokenIssuer): Route {
  return {
    method: 'GET',
    path: '/demo/token',
    handle: async ({ response, url }) => {
      const { searchParams } = url;
      const parsed = demoQuery.safeParse({ user: searchParams.get('user') ?? undefined, ttl: searchParams.get('ttl') ?? undefined, visitor: searchParams.get('visitor') ?? undefined });
      if (!parsed.success) return sendError(response, 400, 'bad_request', parsed.error.issues[0]?.message ?? 'invalid query');
      const { user, ttl = DEMO_TTL.default, visitor } = parsed.data;
      sendJson(response, 200, await issueDemoToken(issuer, user, ttl, visitor));
    },
  };
}
