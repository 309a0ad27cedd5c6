import { ReplyError, type LifelineClient, type Position, type Subscription } from '../client/index.js';
import { parseChatMessage, type ChatMessage, type ChatView } from './chat.js';
import type { PresenceView } from './presence.js';
import type { Timeline } from './timeline.js';

export const CHANNEL = 'chat:lobby';
/** How many recent messages a page shows when it joins (from the channel's history). */
export const REWIND = 50;

export interface RoomViews {
  readonly chat: ChatView;
  readonly presence: PresenceView;
  readonly timeline: Timeline;
}

/** What a test (or a curious reader in the console) can ask the room. */
export interface RoomStats {
  /** Events shown, and of those the ones that came back through recovery. */
  readonly shown: number;
  readonly recovered: number;
  /** Outcome of the last resubscribe: how many events it replayed, and whether the gap was covered. */
  readonly lastRecovery: { readonly events: number; readonly recovered: boolean } | undefined;
}

/**
 * The chat room on one channel: its events into the chat view (those replayed after a
 * reconnect marked recovered), presence into the presence view, and each recovery's outcome on
 * the timeline. Publishes go through the client's outbox, so each takes effect once.
 */
export class Room {
  readonly subscription: Subscription;
  #replayed = 0;
  #earlier = 0;
  #firstSubscribe = true;
  #stats: { shown: number; recovered: number; lastRecovery: RoomStats['lastRecovery'] } = { shown: 0, recovered: 0, lastRecovery: undefined };

  constructor(
    private readonly client: LifelineClient,
    private readonly user: string,
    /** This page's user id, once the server has said it (the first token). */
    private readonly id: () => string | undefined,
    private readonly views: RoomViews,
  ) {
    this.subscription = client.subscribe(CHANNEL, {
      // A page that joins (or is reloaded) shows the recent messages, then the live ones.
      rewind: REWIND,
      event: (event) => this.#event(event.data, event.position),
      subscribed: (event) => this.#subscribed(event.recovered, event.position),
      state: (event) => {
        if (event.to === 'subscribing') {
          this.#replayed = 0;
          views.presence.unknown();
        }
      },
      presence: (event) => (event.action === 'join' ? views.presence.join(event.member) : views.presence.leave(event.member)),
      error: (event) => views.chat.note(`The server refused the room: ${event.error.message}`, true),
    });
  }

  get stats(): RoomStats {
    return { ...this.#stats };
  }

  /** Publishes a message; its pending line tells what happens to it until its event arrives. */
  send(text: string): void {
    const { chat } = this.views;
    const id = this.id();
    const message: ChatMessage = { user: this.user, text, at: Date.now(), mid: crypto.randomUUID(), ...(id === undefined ? {} : { id }) };
    const online = this.client.transport.options.environment.online();
    const live = this.client.state === 'ready';
    chat.pending(message.mid, text, !online ? 'offline' : live ? 'sending' : 'queued');
    this.client.publish(CHANNEL, message).then(
      () => undefined, // stored: the line goes when its event arrives
      (error: unknown) => {
        const code = error instanceof ReplyError ? error.code : '';
        const why =
          code === 'outcome_unknown'
            ? 'unknown: the session was lost before the server answered'
            : code === 'forbidden'
              ? 'refused by the server'
              : code === 'closed'
                ? 'not sent: the client was closed'
                : `not sent: ${error instanceof Error ? error.message : String(error)}`;
        chat.pending(message.mid, text, 'failed', why);
      },
    );
  }

  #event(data: unknown, position: Position): void {
    const message = parseChatMessage(data);
    if (!message) return;
    // Events before the first `subscribed` are the rewind (recent history); before a later one,
    // the replay of what was missed while the link was down.
    const before = this.subscription.state === 'subscribing';
    const earlier = before && this.#firstSubscribe;
    const recovered = before && !earlier;
    if (!this.views.chat.add(message, position, recovered ? 'recovered' : earlier ? 'earlier' : 'live')) return;
    this.#stats.shown++;
    if (earlier) this.#earlier++;
    if (recovered) {
      this.#replayed++;
      this.#stats.recovered++;
    }
  }

  #subscribed(recovered: boolean, position: Position): void {
    const { timeline, chat, presence } = this.views;
    const first = this.#firstSubscribe;
    this.#firstSubscribe = false;
    void this.subscription.presence().then(
      (members) => presence.reset(members),
      () => undefined, // the link went again: the next subscribe asks again
    );
    if (first) {
      const earlier = this.#earlier;
      if (earlier > 0) chat.system(`Above: the last ${earlier === 1 ? 'message' : `${earlier} messages`} from the room’s history. New ones appear below.`);
      timeline.add({
        kind: 'subscribed',
        state: 'ready',
        title: `joined ${CHANNEL}`,
        detail: `at offset ${position.offset}: ${earlier === 0 ? 'no recent messages' : `showed the last ${earlier} from history (rewind ${REWIND})`}; new messages from here on`,
      });
      return;
    }
    const events = this.#replayed;
    this.#stats.lastRecovery = { events, recovered };
    if (recovered) {
      timeline.add({
        kind: 'recovered',
        state: 'recovered',
        title: events === 0 ? 'nothing missed' : `recovered ${events} event${events === 1 ? '' : 's'}`,
        detail:
          events === 0
            ? `resubscribed at offset ${position.offset}; no event was published meanwhile`
            : `replayed from history up to offset ${position.offset}, in order, each once`,
      });
    } else {
      timeline.add({
        kind: 'lost',
        state: 'closed',
        title: 'could not recover',
        detail: 'the gap is older than the channel’s history (200 events / 10 min) or its epoch changed: reload the room’s state',
      });
      chat.system('Some messages were missed while away and are no longer in the history.', true);
    }
  }
}
