import { randomBytes } from 'node:crypto';
import { errors, jwtVerify, type JWTPayload } from 'jose';
import type { AuthRequest, AuthResult, Authenticate, ChannelHooks } from '../server/index.js';
import { granted, invalidPatterns, type ChannelPattern } from './channel-grants.js';
import type { PublicVerificationKey } from './jwt-keys.js';

/**
 * Who a connection of `lifeline serve` is: the token's `sub`, and the channel patterns its
 * `channels` claim grants (absent: every channel a namespace allows). A refresh must carry the
 * same of both: changed grants take effect when the client reconnects with the new token.
 */
export interface TokenUser {
  readonly id: string;
  /** The name to show (demo mode: the token's `name` claim; the `sub` is then unique per visitor). */
  readonly name?: string;
  readonly channels?: readonly string[];
}

export interface TokenAuthOptions {
  /** HS256 secret, at least 32 bytes. */
  readonly secret?: Uint8Array;
  /** RS256 or ES256 public key. */
  readonly publicKey?: PublicVerificationKey;
  /** Tokens must name this audience (`aud`). */
  readonly audience?: string;
  /** Tokens must come from this issuer (`iss`). */
  readonly issuer?: string;
  /** Accept tokens without `exp` (they never expire). Default false: such a token is refused 401. */
  readonly allowTokensWithoutExp?: boolean;
  /** A handshake without a token gets an `anon-…` user instead of 401. A token that fails still gets 401. */
  readonly allowAnonymous: boolean;
  /**
   * The channels an anonymous user may use, as patterns. Default: none where tokens are
   * accepted (a token's grants must not be widened by leaving the token out), every channel where
   * they are not (anonymous is then the only way in).
   */
  readonly anonymousChannels?: readonly ChannelPattern[];
  /** Take a string `name` claim as the user's name to show (demo mode). A refresh must carry the same. */
  readonly names?: boolean;
  /** Ids for anonymous users; default `anon-` and 12 random hex digits. */
  readonly anonymousId?: () => string;
}

const MAX_SUBJECT = 200;
/** How far ahead of this server's the issuer's clock may run when `nbf` is checked, s (`exp` has none: the connection ends there). */
export const CLOCK_TOLERANCE_S = 30;

/** What a handshake or refresh presents, in order: a `refresh` token, a first message's `token`, `Authorization: Bearer`, then `?token=`. */
export function presentedToken(request: AuthRequest): { readonly token?: string; readonly error?: string } {
  if (request.token !== undefined) return { token: request.token };
  const first = request.firstMessage?.token;
  if (request.firstMessage !== undefined) return typeof first === 'string' && first !== '' ? { token: first } : {};
  // Only a Bearer header is ours: another scheme (a browser resends a proxy's cached Basic
  // credentials on a same-origin handshake) leaves the query's token to speak.
  const header = request.headers.authorization;
  if (header !== undefined && /^Bearer(?:[ \t]|$)/i.test(header)) {
    const match = /^Bearer[ \t]+([^\s]+)[ \t]*$/i.exec(header);
    return match?.[1] !== undefined ? { token: match[1] } : { error: 'the Authorization header must be "Bearer <token>"' };
  }
  const query = request.query.get('token');
  return query !== null && query !== '' ? { token: query } : {};
}

/**
 * The `authenticate` hook and the channel permission hooks for signed tokens (JWT): HS256 with a
 * shared secret and/or RS256/ES256 with a public key. `exp` is required (unless
 * `allowTokensWithoutExp`) and becomes the connection's expiry (it is closed with 4000 then,
 * unless a `refresh` brings a fresh token); `nbf`, `aud` and `iss` are checked; `sub` is required.
 */
export function tokenAuth(options: TokenAuthOptions): { readonly authenticate: Authenticate<TokenUser> } & Required<ChannelHooks<TokenUser>> {
  const { secret, publicKey, audience, issuer, allowAnonymous } = options;
  const anonymousId = options.anonymousId ?? (() => `anon-${randomBytes(6).toString('hex')}`);
  const algorithms = [...(secret ? ['HS256'] : []), ...(publicKey ? [publicKey.algorithm] : [])];
  const anonymousChannels = options.anonymousChannels ?? (algorithms.length > 0 ? [] : undefined);

  const verify = async (token: string): Promise<AuthResult<TokenUser>> => {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, (header) => (header.alg === 'HS256' && secret ? secret : (publicKey?.key ?? new Uint8Array())), {
        algorithms,
        ...(audience === undefined ? {} : { audience }),
        ...(issuer === undefined ? {} : { issuer }),
        requiredClaims: ['sub'],
        // The issuer's clock may run a little ahead of this one: a token minted a few seconds "in
        // the future" (nbf) is good. Not `exp` (checked below): the connection ends at `exp`.
        clockTolerance: CLOCK_TOLERANCE_S,
      }));
    } catch (error) {
      return { ok: false, status: 401, message: refusal(error) };
    }
    if (payload.exp === undefined && options.allowTokensWithoutExp !== true) return { ok: false, status: 401, message: 'the token has no exp claim; this server accepts only tokens that expire' };
    if (typeof payload.exp === 'number' && payload.exp * 1000 <= Date.now()) return { ok: false, status: 401, message: 'the token has expired' };
    // jose checks that sub is present, not that it is a string (a number or an object would pass).
    const sub: unknown = payload.sub;
    if (typeof sub !== 'string' || sub.length === 0 || sub.length > MAX_SUBJECT) return { ok: false, status: 401, message: `the token's sub must be a string of 1-${MAX_SUBJECT} characters` };
    const claim = payload.channels;
    if (claim !== undefined) {
      const invalid = invalidPatterns(claim);
      if (invalid !== undefined) return { ok: false, status: 401, message: invalid };
    }
    // Sorted and without repeats: the same grants in another order are the same user (a refresh
    // must name the same user, compared by value).
    const name: unknown = payload.name;
    const named = options.names === true && typeof name === 'string' && name.length > 0 && name.length <= MAX_SUBJECT ? { name } : {};
    const user: TokenUser = claim === undefined ? { id: sub, ...named } : { id: sub, ...named, channels: [...new Set(claim as readonly string[])].sort() };
    return payload.exp === undefined ? { ok: true, user } : { ok: true, user, expiresAt: payload.exp * 1000 };
  };

  return {
    authenticate: async (request) => {
      const presented = presentedToken(request);
      if (presented.error !== undefined) return { ok: false, status: 401, message: presented.error };
      if (presented.token !== undefined) {
        if (algorithms.length === 0) return { ok: false, status: 401, message: 'this server accepts no tokens' };
        return verify(presented.token);
      }
      if (allowAnonymous) return { ok: true, user: anonymousChannels === undefined ? { id: anonymousId() } : { id: anonymousId(), channels: anonymousChannels }, anonymous: true };
      return { ok: false, status: 401, message: 'a token is required (Authorization: Bearer <token>, or ?token=)' };
    },
    canSubscribe: ({ user, channel }) => granted(user.channels, channel),
    canPublish: ({ user, channel }) => granted(user.channels, channel),
    // Other members see who (the sub, and the name where there is one), never what the token grants.
    presenceUser: (user) => (user.name === undefined ? user.id : { id: user.id, name: user.name }),
  };
}

/** A short, safe reason for a refused token (sent to the peer: it names the check, never the key). */
function refusal(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'the token has expired';
  if (error instanceof errors.JWTClaimValidationFailed) return `the token's ${error.claim} claim is not accepted (${error.reason})`;
  if (error instanceof errors.JOSEAlgNotAllowed) return 'the token is signed with an algorithm this server does not accept';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'the token signature is invalid';
  return 'the token is malformed';
}
