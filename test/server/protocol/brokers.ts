/**
 * Broker wrappers for the protocol tests (not a test file): one that makes every call take a
 * few event-loop turns (as a networked broker does), so publishes really land between a
 * subscription's steps, and one that reports when a session is parked (saved with a finite ttl
 * after its connection ended).
 */
import type { Broker, ChannelEvent, DirectMessage, HistoryPolicy, PresenceMember, PublishOrigin, Recovery, SessionRecord, Unsubscribe } from '../../../src/broker/broker.js';
import { seededRng, type Rng } from '../../../src/core/clock.js';
import type { Position } from '../../../src/core/position.js';
import { within } from '../../helpers/wait.js';

function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Forwards every call to `inner`, after `before(method)` resolves. */
export class ForwardingBroker implements Broker {
  constructor(
    readonly inner: Broker,
    private readonly before: (method: string) => Promise<void> = async () => undefined,
  ) {}

  async publish(channel: string, data: unknown, policy: HistoryPolicy, origin?: PublishOrigin): Promise<ChannelEvent> {
    await this.before('publish');
    return this.inner.publish(channel, data, policy, origin);
  }
  async subscribe(channel: string, onEvent: (event: ChannelEvent) => void): Promise<Unsubscribe> {
    await this.before('subscribe');
    return this.inner.subscribe(channel, onEvent);
  }
  async recover(channel: string, since: Position | undefined, limit: number): Promise<Recovery> {
    await this.before('recover');
    return this.inner.recover(channel, since, limit);
  }
  async rewind(channel: string, count: number, maxAgeMs: number | undefined): Promise<Recovery> {
    await this.before('rewind');
    return this.inner.rewind(channel, count, maxAgeMs);
  }
  async saveSession(id: string, record: SessionRecord, ttl: number): Promise<boolean | void> {
    await this.before('saveSession');
    return this.inner.saveSession(id, record, ttl);
  }
  async recordReply(session: string, id: number, reply: unknown, capacity: number): Promise<void> {
    await this.before('recordReply');
    return this.inner.recordReply(session, id, reply, capacity);
  }
  async loadSession(id: string, claim?: boolean): Promise<SessionRecord | undefined> {
    await this.before('loadSession');
    return this.inner.loadSession(id, claim);
  }
  async refreshSessions(ids: readonly string[], ttl: number): Promise<readonly string[]> {
    await this.before('refreshSessions');
    return this.inner.refreshSessions(ids, ttl);
  }
  async claimRequest(session: string, id: number, ttl: number): Promise<boolean> {
    await this.before('claimRequest');
    return this.inner.claimRequest(session, id, ttl);
  }
  async deleteSession(id: string): Promise<void> {
    await this.before('deleteSession');
    return this.inner.deleteSession(id);
  }
  async sessionsOf(user: unknown): Promise<readonly string[]> {
    await this.before('sessionsOf');
    return this.inner.sessionsOf(user);
  }
  async sendDirect(session: string, data: unknown, ttl: number, limit?: number): Promise<DirectMessage | null> {
    await this.before('sendDirect');
    return this.inner.sendDirect(session, data, ttl, limit);
  }
  async pendingDirect(session: string, afterSeq: number): Promise<readonly DirectMessage[]> {
    await this.before('pendingDirect');
    return this.inner.pendingDirect(session, afterSeq);
  }
  async ackDirect(session: string, seq: number): Promise<void> {
    await this.before('ackDirect');
    return this.inner.ackDirect(session, seq);
  }
  async subscribeDirect(session: string, onMessage: (message: DirectMessage) => void): Promise<Unsubscribe> {
    await this.before('subscribeDirect');
    return this.inner.subscribeDirect(session, onMessage);
  }
  async presenceJoin(channel: string, member: PresenceMember, ttl: number): Promise<boolean> {
    await this.before('presenceJoin');
    return this.inner.presenceJoin(channel, member, ttl);
  }
  async presenceLeave(channel: string, client: string, connection?: string): Promise<boolean> {
    await this.before('presenceLeave');
    return this.inner.presenceLeave(channel, client, connection);
  }
  async presence(channel: string): Promise<readonly PresenceMember[]> {
    await this.before('presence');
    return this.inner.presence(channel);
  }
  async close(): Promise<void> {
    return this.inner.close();
  }
}

/** Every call waits 0-`maxTurns` event-loop turns first (seeded), like a broker across a network. */
export function slowBroker(inner: Broker, seed: number, maxTurns = 4): ForwardingBroker {
  const rng: Rng = seededRng(seed);
  return new ForwardingBroker(inner, async () => {
    const turns = Math.floor(rng() * (maxTurns + 1));
    for (let i = 0; i < turns; i++) await turn();
  });
}

/**
 * Reports sessions parked in the broker: saved with no `owner`, as a node saves a session whose
 * connection ended (a hello, and a live session's save, name the connection serving it; their
 * ttl is finite too, so the ttl tells nothing).
 */
export class ParkWatch extends ForwardingBroker {
  readonly #parked = new Map<string, number>();
  readonly #waiters = new Set<() => void>();

  override async saveSession(id: string, record: SessionRecord, ttl: number): Promise<boolean | void> {
    const saved = await super.saveSession(id, record, ttl);
    if (record.owner === undefined) {
      this.#parked.set(id, (this.#parked.get(id) ?? 0) + 1);
      for (const wake of [...this.#waiters]) wake();
    }
    return saved;
  }

  /** How many times `id` was parked. */
  parkings(id: string): number {
    return this.#parked.get(id) ?? 0;
  }

  /** Resolves once `id` was parked at least `count` times. */
  async parked(id: string, count = 1, ms = 5_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.parkings(id) < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`session ${id} was not parked ${count} time(s) within ${ms} ms`);
      let wake: (() => void) | undefined;
      const woken = new Promise<void>((resolve) => {
        wake = resolve;
        this.#waiters.add(resolve);
      });
      await within(woken, left, `parking of ${id}`).catch(() => undefined);
      if (wake) this.#waiters.delete(wake);
    }
  }
}
