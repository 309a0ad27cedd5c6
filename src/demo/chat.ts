import type { SendOutcome } from '../client/index.js';
import { appendPinned, byId, h, shortTime } from './dom.js';

export interface ChatLine {
  readonly name: string;
  readonly text: string;
  readonly at: number;
}

const NAME_KEY = 'lifeline-demo-name';

/** `guest-4821`; from crypto, since the page has no other randomness to lean on. */
function guestName(): string {
  const [value = 0] = crypto.getRandomValues(new Uint16Array(1));
  return `guest-${String(value % 10_000).padStart(4, '0')}`;
}

function storedName(): string {
  try {
    return localStorage.getItem(NAME_KEY) ?? guestName();
  } catch {
    return guestName(); // storage blocked (private mode, sandboxed frame)
  }
}

/** The chat panel: the message list and the composer. It knows nothing about sockets. */
export class ChatView {
  readonly #list = byId('messages', HTMLOListElement);
  readonly #empty = byId('messages-empty', HTMLLIElement);
  readonly #form = byId('composer', HTMLFormElement);
  readonly #name = byId('chat-name', HTMLInputElement);
  readonly #text = byId('chat-text', HTMLInputElement);
  readonly #note = byId('composer-note', HTMLParagraphElement);
  #queuedNote = false;

  constructor(send: (name: string, text: string) => SendOutcome) {
    this.#name.value = storedName();
    this.#form.addEventListener('submit', (event) => {
      event.preventDefault();
      const name = this.#name.value.trim();
      const text = this.#text.value.trim();
      if (name === '' || text === '') return;
      try {
        localStorage.setItem(NAME_KEY, name);
      } catch {
        // not remembered; harmless
      }
      this.#outcome(send(name, text));
    });
  }

  #outcome(outcome: SendOutcome): void {
    if (outcome === 'rejected') {
      this.note('Not sent: the client is closed. Press Reconnect first.', true);
      return;
    }
    this.#text.value = '';
    this.#queuedNote = outcome === 'queued';
    this.note(outcome === 'queued' ? 'Queued: the client sends it, in order, as soon as the link is back.' : '');
  }

  add(line: ChatLine): void {
    this.#empty.remove();
    const self = line.name === this.#name.value.trim();
    appendPinned(
      this.#list,
      h(
        'li',
        { class: self ? 'msg is-self' : 'msg' },
        h('div', { class: 'msg-meta' }, h('span', { class: 'msg-name' }, line.name), h('time', { class: 'msg-time' }, shortTime(line.at))),
        h('p', { class: 'msg-text' }, line.text),
      ),
    );
  }

  system(text: string): void {
    this.#empty.remove();
    appendPinned(this.#list, h('li', { class: 'msg-system' }, text));
  }

  note(text: string, error = false): void {
    this.#note.textContent = text;
    this.#note.classList.toggle('is-error', error);
  }

  /** The link is back: anything queued has just been flushed. */
  opened(): void {
    if (this.#queuedNote) this.note('Queued messages sent.');
    this.#queuedNote = false;
  }
}
