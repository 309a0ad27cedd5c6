import type { RequestWindowState } from '../core/request-window.js';
import { sameIdentity } from './identity.js';

/** What the broker kept of a session while no connection served it (the parts a hello needs). */
export interface StoredSession {
  readonly user: unknown;
  readonly window: RequestWindowState<unknown>;
  /** Digest of the session's resume secret. */
  readonly secret?: string | undefined;
  readonly anonymous?: boolean | undefined;
}

/** Secrets, digested and compared by the host (the core holds no crypto). */
export interface SecretPort {
  /** The digest the broker stores instead of a secret. */
  digest(secret: string): string;
  /** Whether `presented` is the secret of digest `stored` (in constant time). */
  matches(presented: string | undefined, stored: string | undefined): boolean;
}

/** Where new session ids and secrets come from (random in production, counted in tests). */
export interface IdSource {
  session(): string;
  secret(): string;
}

/** The hello's claim, the connection's identity, and what the broker answered for the claimed session. */
export interface HelloInput<User> {
  readonly hello: { readonly session?: string | undefined; readonly secret?: string | undefined };
  readonly connection: { readonly user: User; readonly anonymous: boolean };
  /** The broker's record of `hello.session`: undefined when it never existed or its recovery window ran out. */
  readonly stored: StoredSession | undefined;
  readonly secrets: SecretPort;
  readonly ids: IdSource;
}

/** The session a hello opens. */
export interface HelloOutcome<User> {
  readonly id: string;
  /** Told in `welcome`: handed out once per session; a resume echoes the one the client proved it holds. */
  readonly secret: string;
  /** What resumes it later: the digest of its secret, and whether an anonymous connection opened it. */
  readonly resume: { readonly secret: string; readonly anonymous: boolean };
  readonly resumed: boolean;
  /** The session's user: an anonymous connection that resumed is the session's user again. */
  readonly user: User;
  /** The request-id window to continue from (undefined: a fresh one). */
  readonly window: RequestWindowState<unknown> | undefined;
}

/**
 * Decides what a `hello` opens. A session resumes only with its secret, and for its user (any
 * anonymous connection for an anonymous session); anything else starts a new session.
 */
export function openSession<User>(input: HelloInput<User>): HelloOutcome<User> {
  const { hello, connection, stored, secrets, ids } = input;
  const sameUser = stored !== undefined && (sameIdentity(stored.user, connection.user) || (stored.anonymous === true && connection.anonymous));
  const record = stored !== undefined && sameUser && hello.session !== undefined && secrets.matches(hello.secret, stored.secret) ? stored : undefined;
  if (record && hello.session !== undefined && hello.secret !== undefined) {
    return {
      id: hello.session,
      secret: hello.secret,
      resume: { secret: secrets.digest(hello.secret), anonymous: record.anonymous === true },
      resumed: true,
      user: connection.anonymous ? (record.user as User) : connection.user,
      window: record.window,
    };
  }
  const secret = ids.secret();
  return { id: ids.session(), secret, resume: { secret: secrets.digest(secret), anonymous: connection.anonymous }, resumed: false, user: connection.user, window: undefined };
}
