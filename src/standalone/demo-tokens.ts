import { SignJWT } from 'jose';
import { z } from 'zod';
import { sendError, sendJson } from './http-json.js';
import type { Route } from './router.js';

export const DEMO_TTL = { default: 300, min: 5, max: 3600 } as const;

const demoQuery = z.object({
  user: z.string({ error: 'user is required' }).regex(/^[A-Za-z0-9 _-]{1,32}$/, 'user must be 1-32 characters of A-Z a-z 0-9 space _ -'),
  ttl: z
    .string()
    .regex(/^\d+$/, `ttl must be an integer from ${DEMO_TTL.min} to ${DEMO_TTL.max} (seconds)`)
    .transform(Number)
    .pipe(z.number().min(DEMO_TTL.min, `ttl must be at least ${DEMO_TTL.min} seconds`).max(DEMO_TTL.max, `ttl must be at most ${DEMO_TTL.max} seconds`))
    .optional(),
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

/** Signs a demo token: `sub` is the name, `exp` is `ttl` seconds from now. */
export async function issueDemoToken(issuer: DemoTokenIssuer, user: string, ttl: number): Promise<{ readonly token: string; readonly user: string; readonly expiresAt: number }> {
  const now = (issuer.now ?? Date.now)();
  const seconds = Math.floor(now / 1000);
  const expiresAt = (seconds + ttl) * 1000;
  let jwt = new SignJWT({}).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setSubject(user).setIssuedAt(seconds).setExpirationTime(seconds + ttl);
  if (issuer.audience !== undefined) jwt = jwt.setAudience(issuer.audience);
  if (issuer.issuer !== undefined) jwt = jwt.setIssuer(issuer.issuer);
  return { token: await jwt.sign(issuer.secret), user, expiresAt };
}

/**
 * `GET /demo/token?user=NAME&ttl=SECONDS` (demo mode only): anyone may name themselves, so this
 * is for trying Lifeline out, never for production. Answers `{"token","user","expiresAt"}`.
 */
export function demoTokenRoute(issuer: DemoTokenIssuer): Route {
  return {
    method: 'GET',
    path: '/demo/token',
    handle: async ({ response, url }) => {
      const parsed = demoQuery.safeParse({ user: url.searchParams.get('user') ?? undefined, ttl: url.searchParams.get('ttl') ?? undefined });
      if (!parsed.success) return sendError(response, 400, 'bad_request', parsed.error.issues[0]?.message ?? 'invalid query');
      const { user, ttl = DEMO_TTL.default } = parsed.data;
      sendJson(response, 200, await issueDemoToken(issuer, user, ttl));
    },
  };
}
