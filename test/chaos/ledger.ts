import type { Position } from '../../src/core/position.js';

/**
 * What every event of the chaos test carries: who published it and its number. `from` is
 * `c<i>` for client i, `server` for `server.publish`, `ballast` for the slow-consumer bursts and
 * `marker` for the one event per channel that marks its head once the chaos is over.
 */
export interface Payload {
  readonly from: string;
  readonly n: number;
}

export function keyOf(data: unknown): string {
  const payload = data as Partial<Payload> | null;
  if (typeof payload !== 'object' || payload === null || typeof payload.from !== 'string' || typeof payload.n !== 'number') return `malformed:${JSON.stringify(data)}`;
  return `${payload.from}#${payload.n}`;
}

/** One event as a subscriber received it. */
export interface Received {
  readonly position: Position;
  readonly key: string;
}

/** One publish and how it ended. */
export interface PublishRecord {
  readonly channel: string;
  readonly from: string;
  readonly n: number;
  outcome: { readonly kind: 'pending' } | { readonly kind: 'acked'; readonly position: Position } | { readonly kind: 'rejected'; readonly code: string };
}

/** What one subscriber holds for one channel. */
export interface SubscriberLog {
  readonly client: number;
  readonly channel: string;
  readonly events: readonly Received[];
}

/**
 * The checks, as a list of problems (empty: every guarantee held). Each subscriber must hold
 * offsets 1..head of its channel in order, once each, in the head's epoch; all subscribers of a
 * channel must agree on what sits at each offset; every acked publish sits at its acked position
 * and nowhere else; nothing appears that nobody published; per publisher and channel, the
 * numbers grow with the offsets (per-session order).
 */
export function verify(heads: ReadonlyMap<string, Position>, logs: readonly SubscriberLog[], publishes: readonly PublishRecord[]): string[] {
  const problems: string[] = [];
  const canonical = new Map<string, Map<number, string>>();
  for (const { client, channel, events } of logs) {
    const head = heads.get(channel);
    if (!head) {
      problems.push(`c${client} ${channel}: no head`);
      continue;
    }
    const where = `c${client} ${channel}`;
    if (events.length !== head.offset) problems.push(`${where}: holds ${events.length} events, the head is ${head.offset}`);
    let shown = 0;
    events.forEach((event, index) => {
      const expected = index + 1;
      if ((event.position.offset !== expected || event.position.epoch !== head.epoch) && shown++ < 3) {
        problems.push(`${where}: event #${expected} is at ${event.position.epoch}/${event.position.offset} (head ${head.epoch}/${head.offset})`);
      }
      let log = canonical.get(channel);
      if (!log) canonical.set(channel, (log = new Map()));
      const seen = log.get(event.position.offset);
      if (seen === undefined) log.set(event.position.offset, event.key);
      else if (seen !== event.key) problems.push(`${where}: offset ${event.position.offset} is ${event.key}, another subscriber has ${seen}`);
    });
  }

  // Each channel's log, as the subscribers together saw it: complete, each payload once.
  const where = new Map<string, { channel: string; offset: number }[]>();
  for (const [channel, head] of heads) {
    const log = canonical.get(channel);
    if (!log) {
      problems.push(`${channel}: no subscriber saw any event`);
      continue;
    }
    for (let offset = 1; offset <= head.offset; offset++) {
      const key = log.get(offset);
      if (key === undefined) problems.push(`${channel}: no subscriber holds offset ${offset}`);
      else where.set(key, [...(where.get(key) ?? []), { channel, offset }]);
    }
  }
  for (const [key, places] of where) {
    if (places.length !== 1) problems.push(`${key} appears ${places.length} times: ${places.map((p) => `${p.channel}/${p.offset}`).join(', ')}`);
    if (key.startsWith('malformed:')) problems.push(`a malformed event: ${key}`);
  }

  // Every publish once, where its ack said; nothing in the logs that was not published.
  const published = new Set<string>();
  for (const publish of publishes) {
    const key = `${publish.from}#${publish.n}`;
    published.add(key);
    if (publish.outcome.kind !== 'acked') continue;
    const places = where.get(key) ?? [];
    const { position } = publish.outcome;
    const at = places[0];
    if (places.length === 0) problems.push(`${key} was acked at ${publish.channel}/${position.offset} but no subscriber holds it`);
    else if (at && (at.channel !== publish.channel || at.offset !== position.offset || heads.get(publish.channel)?.epoch !== position.epoch)) {
      problems.push(`${key} was acked at ${publish.channel}/${position.epoch}/${position.offset} but sits at ${at.channel}/${at.offset}`);
    }
  }
  for (const key of where.keys()) if (!published.has(key)) problems.push(`${key} is in a channel but was never published (or its publish did not settle as acked)`);

  // Per publisher and channel, later sends sit later (a session's messages are processed in send order).
  for (const [channel, log] of canonical) {
    const last = new Map<string, number>();
    for (const offset of [...log.keys()].sort((a, b) => a - b)) {
      const [from, n] = (log.get(offset) ?? '').split('#');
      if (from === undefined || n === undefined) continue;
      const previous = last.get(from);
      if (previous !== undefined && Number(n) <= previous) problems.push(`${channel}: ${from}#${n} at offset ${offset} comes after ${from}#${previous}`);
      last.set(from, Number(n));
    }
  }
  return problems;
}
