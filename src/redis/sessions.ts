import type { SessionRecord } from '../broker/broker.js';
import type { Clock } from '../core/clock.js';
import { canonicalJson } from '../protocol/identity.js';
import { BACKSTOP, expiry } from './expiry.js';
import type { RedisKeys } from './keys.js';
import { array, integer, optionalText, splitMember, text } from './replies.js';
import type { ScriptRunner } from './script-runner.js';
import * as lua from './scripts/session.js';

/**
 * Sessions in Redis: each one's record and reply window, its user's index of sessions, and the
 * claims of requests running somewhere. Logical expiry follows the injected clock; real key
 * expiry only backs it up.
 */
export class RedisSessions {
  constructor(
    private readonly scripts: ScriptRunner,
    private readonly keys: RedisKeys,
    private readonly clock: Clock,
  ) {}

  async saveSession(id: string, record: SessionRecord, ttl: number): Promise<boolean> {
    const keys = this.keys.session(id);
    const userJson = canonicalJson(record.user ?? null);
    const { expiresAt, realTtl } = expiry(this.clock, ttl);
    const replies = record.window.replies.flatMap(([replyId, reply]) => [String(replyId), JSON.stringify(reply ?? null)]);
    const { generation } = record;
    const saved = await this.scripts.run(
      lua.SAVE_SESSION,
      [keys.record, keys.replies, keys.outboxMeta, keys.outbox],
      [userJson, String(record.window.acked), String(record.window.floor), String(this.clock.now()), expiresAt, realTtl, String(record.sentSeq ?? 0), record.owner ?? '', record.secret ?? '', record.anonymous === true ? '1' : '0', generation === undefined ? '' : String(generation), ...replies],
    );
    if (integer(saved) === 0) return false; // a newer hello saved it: nothing changed
    await this.index(userJson, id, expiresAt, realTtl);
    return true;
  }

  /**
   * Extends live sessions. `lastSeq` is the last direct message this node heard for each (0 for
   * none): the outbox's seq is raised to it, never lowered, so after a failover that lost the
   * last sends no seq is issued twice (the node and the client would drop the new message as
   * seen, and the ack of the old one would delete it).
   */
  async refreshSessions(ids: readonly string[], ttl: number, lastSeq: (id: string) => number = () => 0): Promise<readonly string[]> {
    const { expiresAt, realTtl } = expiry(this.clock, ttl);
    const now = String(this.clock.now());
    const missing: string[] = [];
    await Promise.all(
      ids.map(async (id) => {
        const keys = this.keys.session(id);
        const reply = await this.scripts.run(lua.TOUCH_SESSION, [keys.record, keys.replies, keys.outboxMeta, keys.outbox], [now, expiresAt, realTtl, String(lastSeq(id))]);
        if (reply === null) {
          missing.push(id);
          return;
        }
        const [user, until] = array(reply);
        await this.index(text(user), id, text(until), realTtl);
      }),
    );
    return missing;
  }

  async recordReply(session: string, id: number, reply: unknown, capacity: number): Promise<void> {
    const keys = this.keys.session(session);
    await this.scripts.run(lua.RECORD_REPLY, [keys.record, keys.replies], [String(id), JSON.stringify(reply ?? null), String(capacity), String(this.clock.now())]);
  }

  async loadSession(id: string, claim = false): Promise<SessionRecord | undefined> {
    const keys = this.keys.session(id);
    const reply = await this.scripts.run(lua.LOAD_SESSION, [keys.record, keys.replies], [String(this.clock.now()), claim ? '1' : '0']);
    if (reply === null) return undefined;
    const [user, acked, floor, members, owner, secret, anonymous, generation] = array(reply);
    const replies = array(members).map((member) => {
      const [replyId, json] = splitMember(text(member));
      return [replyId, JSON.parse(json) as unknown] as const;
    });
    const stored = optionalText(owner);
    const digest = optionalText(secret);
    return {
      user: JSON.parse(text(user)) as unknown,
      window: { acked: integer(acked), floor: integer(floor), replies },
      ...(stored === undefined ? {} : { owner: stored }),
      ...(digest === undefined ? {} : { secret: digest, anonymous: optionalText(anonymous) === '1' }),
      ...(generation === null || generation === undefined ? {} : { generation: integer(generation) }),
    };
  }

  async claimRequest(session: string, id: number, ttl: number): Promise<boolean> {
    const key = this.keys.session(session).claim(id);
    const reply = await this.scripts.run(lua.CLAIM, [key], [String(this.clock.now()), String(this.clock.now() + ttl), String(ttl + BACKSTOP)]);
    return integer(reply) === 1;
  }

  async deleteSession(id: string): Promise<void> {
    const keys = this.keys.session(id);
    const user = optionalText(await this.scripts.send(['HGET', keys.record, 'u']));
    await this.scripts.send(['DEL', keys.record, keys.replies, keys.outboxMeta, keys.outbox]);
    if (user !== undefined) await this.scripts.send(['ZREM', this.keys.user(user), id]);
  }

  async sessionsOf(user: unknown): Promise<readonly string[]> {
    const reply = await this.scripts.send(['ZRANGEBYSCORE', this.keys.user(canonicalJson(user ?? null)), String(this.clock.now()), '+inf']);
    return array(reply).map(text);
  }

  /** Adds a session to its user's index (scored by expiry) and drops the index's expired members. */
  async index(userJson: string, id: string, expiresAt: string, realTtl: string): Promise<void> {
    const key = this.keys.user(userJson);
    await this.scripts.run(lua.INDEX_SESSION, [key], [expiresAt === 'inf' ? '+inf' : expiresAt, id, String(this.clock.now()), realTtl]);
  }
}
