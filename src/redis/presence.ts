import type { PresenceMember } from '../broker/broker.js';
import type { Clock } from '../core/clock.js';
import { BACKSTOP } from './expiry.js';
import type { RedisKeys } from './keys.js';
import { array, integer } from './replies.js';
import type { ScriptRunner } from './script-runner.js';
import * as lua from './scripts/presence.js';

/**
 * Presence in Redis: per channel, members scored by the end of their lease (a sorted set) and
 * their JSON (a hash). Leases follow the injected clock; the keys' own expiry only backs them up.
 */
export class RedisPresence {
  constructor(
    private readonly scripts: ScriptRunner,
    private readonly keys: RedisKeys,
    private readonly clock: Clock,
  ) {}

  async join(channel: string, member: PresenceMember, ttl: number): Promise<boolean> {
    const keys = this.keys.presence(channel);
    const now = this.clock.now();
    const reply = await this.scripts.run(lua.PRESENCE_JOIN, [keys.members, keys.data], [member.client, JSON.stringify(member), String(now + ttl), String(ttl + BACKSTOP), String(now), member.generation === undefined ? '' : String(member.generation)]);
    return integer(reply) === 1;
  }

  async leave(channel: string, client: string, connection?: string): Promise<boolean> {
    const keys = this.keys.presence(channel);
    return integer(await this.scripts.run(lua.PRESENCE_LEAVE, [keys.members, keys.data], [client, connection ?? ''])) === 1;
  }

  list(channel: string): Promise<readonly PresenceMember[]> {
    return this.#members(lua.PRESENCE_LIST, channel);
  }

  expired(channel: string): Promise<readonly PresenceMember[]> {
    return this.#members(lua.PRESENCE_EXPIRE, channel);
  }

  /** Runs a presence script that answers with members' JSON. */
  async #members(script: string, channel: string): Promise<readonly PresenceMember[]> {
    const keys = this.keys.presence(channel);
    const reply = await this.scripts.run(script, [keys.members, keys.data], [String(this.clock.now())]);
    const members: PresenceMember[] = [];
    for (const json of array(reply)) {
      if (typeof json === 'string') members.push(JSON.parse(json) as PresenceMember);
    }
    return members;
  }
}
