import { createHash } from 'node:crypto';

/**
 * Key and pub/sub channel names. Every key of one channel, one session or one presence set
 * carries the same `{hash tag}`, so a script touching them stays within one Redis Cluster slot.
 */
export class RedisKeys {
  constructor(readonly prefix: string) {}

  /** The pub/sub channel of control notices between nodes (plain pub/sub: it reaches every node of a Cluster). */
  get control(): string {
    return `${this.prefix}control`;
  }

  channel(name: string): { readonly meta: string; readonly log: string; readonly events: string } {
    const tag = `${this.prefix}{c:${name}}`;
    return { meta: tag, log: `${tag}:log`, events: `${tag}:ev` };
  }

  /** The marker of a session's last publish to a channel (exactly-once publish across nodes). */
  origin(channel: string, session: string): string {
    return `${this.prefix}{c:${channel}}:by:${session}`;
  }

  /** An app's idempotency key for publishes to a channel (hashed: keys are the app's text). */
  idempotency(channel: string, key: string): string {
    return `${this.prefix}{c:${channel}}:k:${createHash('sha256').update(key).digest('hex')}`;
  }

  session(id: string): {
    readonly record: string;
    readonly replies: string;
    readonly outboxMeta: string;
    readonly outbox: string;
    readonly direct: string;
    readonly claim: (request: number) => string;
  } {
    const tag = `${this.prefix}{s:${id}}`;
    return { record: tag, replies: `${tag}:r`, outboxMeta: `${tag}:om`, outbox: `${tag}:o`, direct: `${tag}:dm`, claim: (request) => `${tag}:run:${request}` };
  }

  /** The index of a user's sessions; the user (JSON) is hashed to keep key names short. */
  user(userJson: string): string {
    return `${this.prefix}{u:${createHash('sha1').update(userJson).digest('hex')}}`;
  }

  /** The index of a holder's idempotency-key records (`KeyOrigin.holder`, hashed as a user is), for its quota. */
  heldKeys(holder: string): string {
    return `${this.user(holder)}:k`;
  }

  presence(channel: string): { readonly members: string; readonly data: string } {
    const tag = `${this.prefix}{p:${channel}}`;
    return { members: tag, data: `${tag}:m` };
  }
}
