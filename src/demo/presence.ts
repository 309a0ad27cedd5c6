import type { PresenceMember } from '../client/index.js';
import { avatar, byId, h } from './dom.js';

/** The user a presence member stands for: the name the server authenticated, however it is shaped. */
export function userName(member: PresenceMember): string {
  const user = member.user;
  if (typeof user === 'string') return user;
  if (typeof user === 'object' && user !== null) {
    for (const key of ['name', 'user', 'sub', 'id'] as const) {
      const value = (user as Record<string, unknown>)[key];
      if (typeof value === 'string') return value;
    }
  }
  return 'someone';
}

/**
 * Who is in the room: one chip per user (a user with several sessions, e.g. two tabs, shows
 * "×2"), this page's user first. Members are sessions, so a page that is reconnecting stays in
 * the room until its session expires.
 */
export class PresenceView {
  readonly #list = byId('presence', HTMLUListElement);
  readonly #count = byId('presence-count', HTMLElement);
  readonly #number = byId('presence-number', HTMLElement);
  readonly #members = new Map<string, string>();
  #self = '';

  set self(name: string) {
    this.#self = name;
    this.#render();
  }

  /** The full list (after every subscribe: the room may have changed while the link was down). */
  reset(members: readonly PresenceMember[]): void {
    this.#members.clear();
    for (const member of members) this.#members.set(member.client, userName(member));
    this.#render();
  }

  join(member: PresenceMember): void {
    this.#members.set(member.client, userName(member));
    this.#render();
  }

  leave(member: PresenceMember): void {
    this.#members.delete(member.client);
    this.#render();
  }

  /** Not in the room (no link): who is here is unknown until the next subscribe lists them. */
  unknown(): void {
    this.#members.clear();
    this.#list.replaceChildren();
    this.#number.textContent = '–';
    this.#count.title = 'not connected: who is here is unknown';
    this.#count.classList.remove('is-live');
  }

  #render(): void {
    const tabs = new Map<string, number>();
    for (const user of this.#members.values()) tabs.set(user, (tabs.get(user) ?? 0) + 1);
    const users = [...tabs.keys()].sort((a, b) => Number(b === this.#self) - Number(a === this.#self) || a.localeCompare(b));
    this.#list.replaceChildren(
      ...users.map((user) => {
        const n = tabs.get(user) ?? 1;
        return h(
          'li',
          { class: user === this.#self ? 'is-self' : '', 'data-user': user },
          avatar(user),
          user === this.#self ? `${user} (you)` : user,
          n > 1 ? h('span', { class: 'tabs', title: `${n} sessions` }, `×${n}`) : null,
        );
      }),
    );
    this.#number.textContent = String(users.length);
    this.#count.title = '';
    this.#count.classList.add('is-live');
  }
}
