import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { seededRng, type Rng } from '../../src/core/clock.js';
import type { Position } from '../../src/core/position.js';
import { startFaultProxy, type FaultProxy } from '../../src/testing/fault-proxy.js';
import { startServer, type ServerFixture } from '../../src/testing/server-fixture.js';
import { eventually } from '../helpers/wait.js';
import { Member } from './fleet.js';
import { verify, type PublishRecord, type SubscriberLog } from './ledger.js';

export interface ChaosConfig {
  readonly clients: number;
  readonly channels: number;
  /** Channels each client subscribes to (besides its own ballast channel). */
  readonly perClient: number;
  /** Every `anonymousEvery`-th client (indices anonymousEvery-1, 2*anonymousEvery-1, ...) connects anonymously. */
  readonly anonymousEvery: number;
  /** Clients 0..publishers-1 publish. */
  readonly publishers: number;
  /** Publishes in flight per publisher at most. */
  readonly inFlight: number;
  /**
   * The chaos lasts until the run has seen enough (`goals`), however long that takes on a busy
   * machine, but no longer than `chaosCapMs` (past it the run fails, naming what it lacked) and
   * `maxFaults` faults.
   */
  readonly goals: ChaosGoals;
  readonly chaosCapMs: number;
  readonly maxFaults: number;
  /** A fault every faultGap..2*faultGap ms. */
  readonly faultGap: number;
  /**
   * The server's pongTimeout, ms. Longer than the clients' watchdog (2 s), so a client often
   * notices a blackhole first and resumes while the server still holds the old link: a takeover
   * (the old link is closed with 4001).
   */
  readonly pongTimeout: number;
  /** Slow-consumer episodes at most. */
  readonly maxSlow: number;
  /**
   * Most bytes pushed at one slow consumer: it gets 1 MiB bursts until its budget trips (4002).
   * Loopback's kernel buffers take about 4 MB before the server's own buffer grows at all.
   */
  readonly maxBallast: number;
  /** How long publishes may take to settle, and clients to catch up, once the chaos stops, ms. */
  readonly settleMs: number;
}

/** What a run must have seen before the chaos stops: volume is a precondition, never a deadline. */
export interface ChaosGoals {
  /** Faults of each kind injected, at least. */
  readonly eachFault: number;
  /** Sessions resumed after a lost link, at least. */
  readonly resumes: number;
  /** Of them, sessions of anonymous clients, at least. */
  readonly anonymousResumes: number;
  /** Client publishes made, at least. */
  readonly clientPublishes: number;
  /** Slow consumers closed with 4002, at least. */
  readonly slowCloses: number;
}

export const defaultConfig: ChaosConfig = {
  clients: 50,
  channels: 10,
  perClient: 3,
  anonymousEvery: 5,
  publishers: 10,
  inFlight: 4,
  goals: { eachFault: 1, resumes: 50, anonymousResumes: 10, clientPublishes: 500, slowCloses: 1 },
  chaosCapMs: 90_000,
  maxFaults: 5_000,
  faultGap: 50,
  pongTimeout: 3_000,
  maxSlow: 3,
  maxBallast: 32 * 1024 * 1024,
  settleMs: 30_000,
};

export type Fault = 'terminate' | 'blackhole' | 'kick' | 'slow' | 'reset';
const FAULTS: readonly Fault[] = ['terminate', 'blackhole', 'kick', 'slow', 'reset'];

export interface ChaosReport {
  readonly seed: number;
  /** Every broken guarantee (empty when all held). */
  readonly problems: string[];
  /** Faults injected, by kind, and those skipped because the victim was between links. */
  readonly faults: Record<Fault | 'skipped', number>;
  /** Server-side closes, by code (and why the server ended a link itself). */
  readonly serverCloses: Record<string, number>;
  /** Client-side closes, by code. */
  readonly clientCloses: Record<string, number>;
  /** Publish rejections, by code (none is expected). */
  readonly rejections: Record<string, number>;
  readonly published: { readonly client: number; readonly server: number; readonly ballast: number };
  /** Events delivered to subscribers (each counted once per subscriber), and the ballast among them. */
  readonly delivered: { readonly events: number; readonly ballast: number };
  readonly subscriptions: number;
  /** Sessions resumed after a lost link (of anonymous clients among them), and sessions that were not (must be 0). */
  readonly resumes: number;
  readonly anonymousResumes: number;
  /** Anonymous clients among the fleet. */
  readonly anonymousClients: number;
  readonly lostSessions: number;
  readonly unrecovered: number;
  readonly proxyLinks: number;
  readonly ms: { readonly total: number; readonly chaos: number; readonly settle: number };
}

function pick<T>(rng: Rng, items: readonly T[]): T {
  const item = items[Math.floor(rng() * items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

/** Server closes with 4002, whether the close handshake finished or the link was then cut (`4002 close-timeout`). */
export function slowConsumerCloses(serverCloses: Readonly<Record<string, number>>): number {
  return Object.entries(serverCloses).reduce((sum, [key, n]) => (key === '4002' || key.startsWith('4002 ') ? sum + n : sum), 0);
}

function count(into: Record<string, number>, key: string | number): void {
  into[key] = (into[key] ?? 0) + 1;
}

/** Whether `check()` came to hold within `ms` (polling). */
function holdsWithin(check: () => boolean, ms: number): Promise<boolean> {
  return eventually(check, 'the chaos run', ms).then(
    () => true,
    () => false,
  );
}

/** Timers for undoing faults (a blackhole or a throttle ends): all run at once when the chaos stops. */
class Undo {
  readonly #pending = new Set<{ timer: NodeJS.Timeout; run: () => void }>();
  after(ms: number, run: () => void): void {
    const entry = { run, timer: setTimeout(() => this.#pending.delete(entry) && run(), ms) };
    this.#pending.add(entry);
  }
  now(): void {
    for (const entry of this.#pending) {
      clearTimeout(entry.timer);
      entry.run();
    }
    this.#pending.clear();
  }
}

/**
 * One chaos run: a server behind a fault proxy, `clients` LifelineClients on random channels,
 * publishers on both sides, and faults at random until the run has seen its `goals`; then the faults
 * stop, everything settles, and the ledger is checked. Everything is closed before it returns.
 */
export async function runChaos(seed: number, config: ChaosConfig = defaultConfig): Promise<ChaosReport> {
  const started = performance.now();
  const rng = seededRng(seed);
  const problems: string[] = [];
  const faults: Record<Fault | 'skipped', number> = { terminate: 0, blackhole: 0, kick: 0, slow: 0, reset: 0, skipped: 0 };
  const serverCloses: Record<string, number> = {};
  const clientCloses: Record<string, number> = {};
  const rejections: Record<string, number> = {};
  const publishes: PublishRecord[] = [];
  const settles: Promise<void>[] = [];
  const channels = Array.from({ length: config.channels }, (_, i) => `chaos:${i}`);
  const ballastOf = (index: number): string => `chaos:ballast-${index}`;
  const members: Member[] = [];
  const undo = new Undo();
  let fixture: ServerFixture<unknown> | undefined;
  let proxy: FaultProxy | undefined;
  let chaosMs = 0;
  let settleMs = 0;

  try {
    fixture = await startServer({
      channels: { chaos: { history: { size: 100_000, ttl: 600_000 } } },
      pingInterval: 500,
      pongTimeout: config.pongTimeout,
      closeTimeout: 1_000,
      recoveryWindow: 120_000,
      // The default idle-channel setting: a ballast channel gets no publish unless its client is a
      // slow victim, so the broker forgets it 10 s after its only subscriber's link drops, and a
      // client away longer (connect attempts timing out one after another on a busy machine)
      // comes back to it in the same epoch: its position is kept for the recovery window.
      outboundBudget: 256 * 1024,
      // Named clients are who their `c` says; anonymous ones get a made-up user per connection
      // (as `lifeline serve --allow-anonymous` does) and resume with their session's secret.
      authenticate: ({ query }) =>
        query.get('anonymous') === '1' ? { ok: true, user: { id: `anon-${randomUUID()}` }, anonymous: true } : { ok: true, user: { id: `c${query.get('c') ?? ''}` } },
    });
    const server = fixture.server;
    // A small proxy queue, so a throttled link pushes back on the server at once.
    proxy = await startFaultProxy({ target: { port: fixture.port }, maxQueuedBytes: 16 * 1024 });
    const faultProxy = proxy;
    server.on('connection', (connection, request) => {
      const index = new URL(request.url ?? '/', 'http://x').searchParams.get('c');
      const member = index === null ? undefined : members[Number(index)];
      if (!member) return;
      member.connection = connection;
    });
    server.on('disconnect', (_connection, report) => count(serverCloses, report.terminated ? `${report.code} ${report.terminated}` : report.code));

    // The fleet: client i is on chaos:(i mod channels) and perClient-1 more at random, and its own ballast channel.
    const url = proxy.via(fixture.wsUrl);
    for (let index = 0; index < config.clients; index++) {
      const mine = new Set([channels[index % config.channels] ?? 'chaos:0']);
      while (mine.size < Math.min(config.perClient, config.channels)) mine.add(pick(rng, channels));
      const anonymous = index % config.anonymousEvery === config.anonymousEvery - 1;
      members.push(new Member({ index, url, channels: [...mine, ballastOf(index)], rng: seededRng(seed * 1_000 + index), anonymous }));
    }
    if (!(await holdsWithin(() => members.every((m) => m.client.state === 'ready'), 60_000))) {
      problems.push(`the fleet did not get ready: ${members.filter((m) => m.client.state !== 'ready').length} not ready`);
      return report();
    }

    // Publishers: clients 0..publishers-1 (awaited, at most inFlight each) and the server.
    let publishing = true;
    const loops: Promise<void>[] = [];
    for (let index = 0; index < config.publishers; index++) {
      const member = members[index];
      if (!member) break;
      const own = seededRng(seed * 7_919 + index);
      loops.push(
        (async () => {
          let inFlight = 0;
          while (publishing) {
            if (inFlight < config.inFlight) {
              inFlight++;
              settles.push(member.publish(pick(own, channels), publishes).finally(() => inFlight--));
            }
            await sleep(10 + own() * 30);
          }
        })(),
      );
    }
    let serverN = 0;
    const serverPublish = (channel: string, from: string, extra: object = {}): Promise<void> => {
      const record: PublishRecord = { channel, from, n: ++serverN, outcome: { kind: 'pending' } };
      publishes.push(record);
      return server.publish(channel, { from, n: record.n, ...extra }).then(
        (position) => void (record.outcome = { kind: 'acked', position }),
        (error: unknown) => void (record.outcome = { kind: 'rejected', code: String(error) }),
      );
    };
    const serverRng = seededRng(seed * 104_729);
    loops.push(
      (async () => {
        while (publishing) {
          await serverPublish(pick(serverRng, channels), 'server');
          await sleep(5 + serverRng() * 20);
        }
      })(),
    );

    // The chaos: a fault every faultGap..2*faultGap ms, on a random client, until the run has
    // seen what it needs (or the cap, which fails the run saying what was missing).
    const chaosStarted = performance.now();
    let slow = 0;
    for (let i = 0; lacking().length > 0; i++) {
      if (i >= config.maxFaults || performance.now() - chaosStarted > config.chaosCapMs) {
        problems.push(`the chaos stopped at its cap (${i} faults, ${Math.round(performance.now() - chaosStarted)} ms) before it had seen enough: ${lacking().join('; ')}`);
        break;
      }
      await sleep(config.faultGap * (1 + rng()));
      const victim = pick(rng, members);
      let fault = pick(rng, FAULTS);
      if (fault === 'slow' && slow >= config.maxSlow && slowConsumerCloses(serverCloses) >= config.goals.slowCloses) fault = 'reset';
      const link = victim.link(faultProxy);
      const connection = victim.connection?.state === 'open' ? victim.connection : undefined;
      // Blackholes from well under the clients' 2 s watchdog (a stall) to well over it (a dead link).
      const duration = 300 + rng() * 4_000;
      if (!connection || (fault !== 'terminate' && fault !== 'kick' && !link)) {
        faults.skipped++; // between links: nothing to cut
        continue;
      }
      if (fault === 'terminate') connection.terminate();
      else if (fault === 'kick') connection.close(1012);
      else if (fault === 'reset') link?.reset();
      else if (fault === 'blackhole') {
        link?.set('blackhole');
        undo.after(duration, () => link?.set('pass'));
      } else {
        // A slow consumer: its link crawls while the server has megabytes for it, until its
        // outbound budget trips (4002); back on a fast link, it recovers the rest from history.
        slow++;
        link?.set({ bandwidth: 16 * 1024 });
        undo.after(duration, () => link?.set('pass'));
        const size = 16 * 1024;
        const pad = 'x'.repeat(size);
        for (let sent = 0; sent < config.maxBallast && connection.state === 'open'; ) {
          const burst: Promise<void>[] = [];
          for (const end = sent + 1024 * 1024; sent < end; sent += size) burst.push(serverPublish(ballastOf(victim.index), 'ballast', { pad }));
          await Promise.all(burst);
        }
      }
      faults[fault]++;
    }
    chaosMs = performance.now() - chaosStarted;

    // Calm: no new publishes or faults; every link passes again.
    const settleStarted = performance.now();
    publishing = false;
    await Promise.all(loops);
    undo.now();
    faultProxy.set('pass');
    const pending = (): number => publishes.filter((p) => p.outcome.kind === 'pending').length;
    if (!(await holdsWithin(() => pending() === 0, config.settleMs))) {
      problems.push(`${pending()} publishes never settled`);
      return report();
    }
    await Promise.all(settles);

    // One marker per channel: its position is the head every subscriber must reach.
    const heads = new Map<string, Position>();
    const all = [...channels, ...members.map((m) => ballastOf(m.index))];
    for (const channel of all) {
      const position = await server.publish(channel, { from: 'marker', n: heads.size + 1 });
      publishes.push({ channel, from: 'marker', n: heads.size + 1, outcome: { kind: 'acked', position } });
      heads.set(channel, position);
    }
    if (!(await holdsWithin(() => members.every((m) => m.caughtUp(heads)), config.settleMs))) {
      const behind = members.filter((m) => !m.caughtUp(heads));
      problems.push(`${behind.length} clients did not catch up: ${behind.slice(0, 8).map((m) => m.describe(heads)).join('; ')}`);
    }
    settleMs = performance.now() - settleStarted;

    // An anonymous client that resumed is its session's user again, not the one its last handshake made up.
    for (const member of members) {
      const user = JSON.stringify(member.connection?.user);
      if (member.anonymous && user !== JSON.stringify(member.firstUser)) problems.push(`c${member.index} (anonymous) is ${user} now, its session began as ${JSON.stringify(member.firstUser)}`);
    }
    const logs: SubscriberLog[] = members.flatMap((m) => m.channels.map((channel) => ({ client: m.index, channel, events: m.received.get(channel) ?? [] })));
    problems.push(...verify(heads, logs, publishes));
    return report();
  } finally {
    undo.now();
    for (const member of members) member.client.close();
    await proxy?.close();
    await fixture?.close();
  }

  /** The goals not yet reached, each with how far the run got. */
  function lacking(): string[] {
    const { goals } = config;
    const missing: string[] = [];
    for (const fault of FAULTS) if (faults[fault] < goals.eachFault) missing.push(`${faults[fault]} ${fault} faults of ${goals.eachFault}`);
    const { resumes, anonymousResumes } = sessionCounts();
    if (resumes < goals.resumes) missing.push(`${resumes} resumes of ${goals.resumes}`);
    if (anonymousResumes < goals.anonymousResumes) missing.push(`${anonymousResumes} anonymous resumes of ${goals.anonymousResumes}`);
    const clientPublishes = publishes.filter((p) => p.from.startsWith('c')).length;
    if (clientPublishes < goals.clientPublishes) missing.push(`${clientPublishes} client publishes of ${goals.clientPublishes}`);
    const slowCloses = slowConsumerCloses(serverCloses);
    if (slowCloses < goals.slowCloses) missing.push(`${slowCloses} slow-consumer closes (4002) of ${goals.slowCloses}`);
    return missing;
  }

  function sessionCounts(): { resumes: number; anonymousResumes: number; lostSessions: number } {
    let resumes = 0;
    let anonymousResumes = 0;
    let lostSessions = 0;
    for (const member of members) {
      member.sessions.forEach((session, i) => {
        if (i === 0) return;
        if (!session.resumed || session.id !== member.sessions[0]?.id) return void lostSessions++;
        resumes++;
        if (member.anonymous) anonymousResumes++;
      });
    }
    return { resumes, anonymousResumes, lostSessions };
  }

  function report(): ChaosReport {
    const { resumes, anonymousResumes, lostSessions } = sessionCounts();
    for (const member of members) {
      for (const close of member.closes) {
        count(clientCloses, close.code);
        if (!close.willReconnect) problems.push(`c${member.index} stopped reconnecting after a ${close.code} close`);
      }
      for (const refusal of member.refusals) problems.push(`c${member.index}: subscription refused: ${refusal}`);
    }
    for (const publish of publishes) if (publish.outcome.kind === 'rejected') count(rejections, publish.outcome.code);
    const ballast = members.reduce((sum, m) => sum + (m.received.get(ballastOf(m.index))?.length ?? 0), 0);
    return {
      seed,
      problems,
      // Copies: the closes of the cleanup after this report are not the chaos's.
      faults: { ...faults },
      serverCloses: { ...serverCloses },
      clientCloses,
      rejections,
      published: {
        client: publishes.filter((p) => p.from.startsWith('c')).length,
        server: publishes.filter((p) => p.from === 'server').length,
        ballast: publishes.filter((p) => p.from === 'ballast').length,
      },
      delivered: { events: members.reduce((sum, m) => sum + [...m.received.values()].reduce((s, events) => s + events.length, 0), 0), ballast },
      subscriptions: members.reduce((sum, m) => sum + m.channels.length, 0),
      resumes,
      anonymousResumes,
      anonymousClients: members.filter((m) => m.anonymous).length,
      lostSessions,
      unrecovered: members.reduce((sum, m) => sum + m.unrecovered.length, 0),
      proxyLinks: proxy?.stats.linksOpened ?? 0,
      ms: { total: Math.round(performance.now() - started), chaos: Math.round(chaosMs), settle: Math.round(settleMs) },
    };
  }
}
