import { ReplyError, type LifelineClient, type Position, type Subscription } from '../client/index.js';
import { parseChatMessage, type ChatMessage, type ChatView } from './chat.js';
import type { PresenceView } from './presence.js';
import type { Timeline } from './timeline.js';

export const CHANNEL = 'chat:lobby';

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
  #firstSubscribe = true;
  #stats: { shown: number; recovered: number; lastRecovery: RoomStats['lastRecovery'] } = { shown: 0, recovered: 0, lastRecovery: undefined };

  constructor(
    private readonly client: LifelineClient,
    private readonly user: string,
    private readonly views: RoomViews,
  ) {
    this.subscription = client.subscribe(CHANNEL, {
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
    const message: ChatMessage = { user: this.user, text, at: Date.now(), mid: crypto.randomUUID() };
    const live = this.client.state === 'ready';
    chat.pending(message.mid, text, live ? 'sending' : 'queued');
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
    // Events before `subscribed` on a resubscribe are the replay of what was missed.
    const recovered = this.subscription.state === 'subscribing';
    if (!this.views.chat.add(message, position, recovered)) return;
    this.#stats.shown++;
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
      timeline.add({ kind: 'subscribed', state: 'ready', title: `joined ${CHANNEL}`, detail: `at offset ${position.offset}: new messages from here on` });
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
