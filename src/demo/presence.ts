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
 * Who a presence member is: the server's id for the user (demo tokens: `NAME~TAG`, one per
 * visitor), else its name. Two visitors may choose the same name; they are still two people.
 */
export function userKey(member: PresenceMember): string {
  const user = member.user;
  if (typeof user === 'object' && user !== null) {
    const id = (user as Record<string, unknown>).id;
    if (typeof id === 'string') return id;
  }
  return userName(member);
}

interface Person {
  readonly key: string;
  readonly name: string;
}

/**
 * Who is in the room: one chip per user, told apart by {@link userKey} and shown by name (a user
 * with several sessions, e.g. a duplicated tab, shows "×2"), this page's user first. Members are sessions, so a page that is reconnecting stays in
 * the room until its session expires.
 */
export class PresenceView {
  readonly #list = byId('presence', HTMLUListElement);
  readonly #count = byId('presence-count', HTMLElement);
  readonly #number = byId('presence-number', HTMLElement);
  readonly #members = new Map<string, Person>();
  #self = '';
  /** A subscribe has listed the members since the page last left the room. */
  #known = false;

  /** This page's user: its id as presence shows it (see {@link userKey}). */
  set self(key: string) {
    this.#self = key;
    // Not in the room (renamed while offline, say): it stays unknown, not an empty or stale room.
    if (this.#known) this.#render();
  }

  /** The full list (after every subscribe: the room may have changed while the link was down). */
  reset(members: readonly PresenceMember[]): void {
    this.#members.clear();
    for (const member of members) this.#members.set(member.client, person(member));
    this.#known = true;
    this.#render();
  }

  join(member: PresenceMember): void {
    this.#members.set(member.client, person(member));
    if (this.#known) this.#render();
  }

  leave(member: PresenceMember): void {
    this.#members.delete(member.client);
    if (this.#known) this.#render();
  }

  /** Not in the room (no link): who is here is unknown until the next subscribe lists them. */
  unknown(): void {
    this.#known = false;
    this.#members.clear();
    this.#list.replaceChildren();
    this.#number.textContent = '–';
    this.#count.title = 'not connected: who is here is unknown';
    this.#count.classList.remove('is-live');
  }

  #render(): void {
    const people = new Map<string, { readonly name: string; tabs: number }>();
    for (const { key, name } of this.#members.values()) {
      const seen = people.get(key);
      if (seen) seen.tabs++;
      else people.set(key, { name, tabs: 1 });
    }
    const self = (key: string): boolean => key === this.#self;
    const keys = [...people.keys()].sort((a, b) => Number(self(b)) - Number(self(a)) || (people.get(a)?.name ?? '').localeCompare(people.get(b)?.name ?? '') || a.localeCompare(b));
    this.#list.replaceChildren(
      ...keys.map((key) => {
        const { name, tabs } = people.get(key) ?? { name: key, tabs: 1 };
        return h(
          'li',
          { class: self(key) ? 'is-self' : '', 'data-user': name, 'data-id': key, title: key },
          avatar(name),
          self(key) ? `${name} (you)` : name,
          tabs > 1 ? h('span', { class: 'tabs', title: `${tabs} sessions` }, `×${tabs}`) : null,
        );
      }),
    );
    this.#number.textContent = String(keys.length);
    this.#count.title = '';
    this.#count.classList.add('is-live');
  }
}

function person(member: PresenceMember): Person {
  return { key: userKey(member), name: userName(member) };
}
