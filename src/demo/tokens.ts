import type { UrlContext } from '../client/index.js';

/** What `GET /demo/token` answers: a signed token for `user`, valid until `expiresAt` (ms). */
export interface Credentials {
  readonly token: string;
  /** The name to show. */
  readonly user: string;
  /** The token's subject (`NAME~TAG`): the same for every token of this visitor and name. */
  readonly id: string;
  readonly expiresAt: number;
}

/** Why a token was fetched, for the page to tell. */
export type TokenUse = 'connect' | 'reconnect after 4000' | 'refresh' | 'short-lived';

/** Tokens live this long normally (the client refreshes them on the live link before then), s. */
export const TOKEN_TTL = 120;
/** The "Expire token" button's token: the shortest the server issues, s. */
export const SHORT_TTL = 5;

/** The refresh the client asked for was withheld on purpose (the "Expire token" button). */
export class RefreshWithheld extends Error {
  constructor() {
    super('refresh withheld: the page lets the token expire on purpose');
    this.name = 'RefreshWithheld';
  }
}

function isCredentials(value: unknown): value is Credentials {
  const v = value as Partial<Credentials> | null;
  return typeof v === 'object' && v !== null && typeof v.token === 'string' && typeof v.user === 'string' && typeof v.id === 'string' && typeof v.expiresAt === 'number';
}

/**
 * The page's credentials: fetched from the demo token endpoint for every connection attempt
 * (browsers cannot set headers on a WebSocket, so the token rides in the query string) and for
 * every refresh on the live link. The "Expire token" button gets a short-lived one and withholds
 * refreshes until the next connection, so the server's 4000 close can be seen.
 */
export class TokenSource {
  #withheld = false;
  #id: string | undefined;

  constructor(
    readonly user: string,
    /** This tab's secret visitor key: every token fetched with it names the same user. */
    private readonly visitor: string,
    private readonly issued: (credentials: Credentials, use: TokenUse) => void,
  ) {}

  /** The user id the server gives this visitor and name (from the first token on). */
  get id(): string | undefined {
    return this.#id;
  }

  /** For `LifelineClient`'s url option: the endpoint with a fresh token on every attempt. */
  url(endpoint: string): (context: UrlContext) => Promise<string> {
    return async ({ authRequired }) => {
      // A new connection: the short-lived token's lesson is over.
      this.#withheld = false;
      const credentials = await this.#fetch(TOKEN_TTL, authRequired ? 'reconnect after 4000' : 'connect');
      const url = new URL(endpoint);
      url.searchParams.set('token', credentials.token);
      return url.href;
    };
  }

  /** For `LifelineClient`'s refreshToken option. */
  readonly refresh = async (): Promise<string> => {
    if (this.#withheld) throw new RefreshWithheld();
    return (await this.#fetch(TOKEN_TTL, 'refresh')).token;
  };

  /** A token that expires in {@link SHORT_TTL} s; refreshes are withheld until the next connection. */
  async shortLived(): Promise<Credentials> {
    const credentials = await this.#fetch(SHORT_TTL, 'short-lived');
    this.#withheld = true;
    return credentials;
  }

  async #fetch(ttl: number, use: TokenUse): Promise<Credentials> {
    const response = await fetch(`/demo/token?user=${encodeURIComponent(this.user)}&ttl=${ttl}&visitor=${encodeURIComponent(this.visitor)}`, { cache: 'no-store' });
    if (!response.ok) throw new Error(`token endpoint answered HTTP ${response.status}`);
    const body: unknown = await response.json();
    if (!isCredentials(body)) throw new Error('token endpoint answered without token, user, id and expiresAt');
    this.#id = body.id;
    this.issued(body, use);
    return body;
  }
}
