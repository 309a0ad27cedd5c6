import type { Position } from '../client/index.js';
import { appendPinned, avatar, byId, h, shortTime } from './dom.js';

/** A chat message as it travels on the channel (the event's `data`). */
export interface ChatMessage {
  readonly user: string;
  readonly text: string;
  /** The sender's clock when it was written, ms. */
  readonly at: number;
  /** The sender's id for it, so its pending line can be matched when its event arrives. */
  readonly mid: string;
  /** The sender's user id (demo tokens: `NAME~TAG`): tells apart two people of one name. */
  readonly id?: string;
}

export const MAX_TEXT = 500;

/** The event data as a chat message, or undefined for anything else on the channel. */
export function parseChatMessage(data: unknown): ChatMessage | undefined {
  const d = data as Partial<ChatMessage> | null;
  if (typeof d !== 'object' || d === null || typeof d.user !== 'string' || typeof d.text !== 'string') return undefined;
  const message = { user: d.user, text: d.text, at: typeof d.at === 'number' ? d.at : Date.now(), mid: typeof d.mid === 'string' ? d.mid : '' };
  return typeof d.id === 'string' ? { ...message, id: d.id } : message;
}

export type PendingState = 'sending' | 'queued' | 'offline' | 'failed';

/** How an event reached the page: live, from the rewind on joining, or replayed after a reconnect. */
export type Arrival = 'live' | 'earlier' | 'recovered';

const pendingLabels: { readonly [S in PendingState]: string } = {
  sending: 'sending…',
  queued: 'queued: sent once, when the link is back',
  offline: 'waiting for the network: sent once, when it is back',
  failed: 'not sent',
};

/**
 * The chat panel: the channel's messages in offset order, each once (an event at a position
 * already shown is ignored), those that came back through recovery marked; below them the
 * messages of this page that the server has not stored yet. It knows nothing about sockets.
 */
export class ChatView {
  readonly #list = byId('messages', HTMLOListElement);
  readonly #empty = byId('messages-empty', HTMLLIElement);
  readonly #outbox = byId('outbox', HTMLOListElement);
  readonly #form = byId('composer', HTMLFormElement);
  readonly #text = byId('composer-text', HTMLInputElement);
  readonly #note = byId('composer-note', HTMLParagraphElement);
  readonly #shown = new Set<string>();
  readonly #pending = new Map<string, HTMLLIElement>();
  #self = '';

  constructor(send: (text: string) => void) {
    this.#form.addEventListener('submit', (event) => {
      event.preventDefault();
      const text = this.#text.value.trim();
      if (text === '') return;
      this.#text.value = '';
      send(text.slice(0, MAX_TEXT));
    });
  }

  /** This page's user id: its messages, and only its, read "(you)" (a name can be anyone's). */
  set self(id: string) {
    this.#self = id;
  }

  /** Shows one channel event; false when its position was already shown (never twice). */
  add(message: ChatMessage, position: Position, arrival: Arrival): boolean {
    const recovered = arrival === 'recovered';
    const key = `${position.epoch}:${position.offset}`;
    if (this.#shown.has(key)) return false;
    this.#shown.add(key);
    this.#empty.remove();
    const mine = this.#pending.get(message.mid);
    mine?.remove();
    this.#pending.delete(message.mid);
    const self = mine !== undefined || (this.#self !== '' && message.id === this.#self);
    appendPinned(
      this.#list,
      h(
        'li',
        {
          class: `msg${self ? ' is-self' : ''}${recovered ? ' is-recovered' : ''}${arrival === 'earlier' ? ' is-earlier' : ''}`,
          'data-epoch': position.epoch,
          'data-offset': String(position.offset),
        },
        avatar(message.user),
        h(
          'div',
          { class: 'msg-body' },
          h(
            'div',
            { class: 'msg-meta' },
            h('span', { class: 'msg-name' }, self ? `${message.user} (you)` : message.user),
            h('time', { class: 'msg-time', datetime: new Date(message.at).toISOString() }, shortTime(message.at)),
            h('span', { class: 'msg-offset', title: `offset ${position.offset} in epoch ${position.epoch}` }, `#${position.offset}`),
            recovered ? h('span', { class: 'badge badge-recovered', title: 'Missed while the link was down; replayed from history on reconnect' }, 'recovered') : null,
          ),
          h('p', { class: 'msg-text' }, message.text),
        ),
      ),
    );
    return true;
  }

  /** A line between messages: a gap that could not be recovered, a new session. */
  system(text: string, warning = false): void {
    this.#empty.remove();
    appendPinned(this.#list, h('li', { class: `msg-system${warning ? ' is-warning' : ''}`, role: 'note' }, text));
  }

  /** A message of this page that the server has not stored yet; it goes when its event arrives. */
  pending(mid: string, text: string, state: PendingState, label = pendingLabels[state]): void {
    let line = this.#pending.get(mid);
    if (!line) {
      line = h('li', { class: 'pending', 'data-mid': mid }, h('span', { class: 'pending-text' }, text), h('span', { class: 'pending-state' }));
      this.#pending.set(mid, line);
      this.#outbox.append(line);
    }
    line.className = `pending is-${state}`;
    const stateText = line.querySelector('.pending-state');
    if (stateText) stateText.textContent = label;
  }

  /** Every pending line in state `from` now reads as `to` (the network went away or came back). */
  relabel(from: PendingState, to: PendingState): void {
    for (const [mid, line] of this.#pending) {
      if (line.classList.contains(`is-${from}`)) this.pending(mid, line.querySelector('.pending-text')?.textContent ?? '', to);
    }
  }

  /** Its event is in (or it was answered and will not be): the pending line goes. */
  settled(mid: string): void {
    this.#pending.get(mid)?.remove();
    this.#pending.delete(mid);
  }

  note(text: string, error = false): void {
    this.#note.textContent = text;
    this.#note.classList.toggle('is-error', error);
  }
}
