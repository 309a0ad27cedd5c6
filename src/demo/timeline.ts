import type { LifelineClientState } from '../client/index.js';
import { appendPinned, clockTime, duration, h } from './dom.js';

export interface Chip {
  readonly text: string;
  readonly tone?: 'good' | 'bad';
}

/** What colours an entry: a client state, or `recovered` for what came back after a reconnect. */
export type Tone = LifelineClientState | 'recovered';

export interface TimelineEntry {
  /** What happened, in one word (`connecting`, `open`, `close`, `recovered`, `token`, ...). */
  readonly kind: string;
  /** Colours the entry like the state it belongs to. */
  readonly state: Tone;
  readonly title: string;
  readonly detail?: string;
  readonly chips?: readonly Chip[];
}

/** Old entries go, so a page left open for days stays light. */
const MAX_ENTRIES = 200;
const TICK_MS = 100;

/**
 * The lifecycle log: one entry per client event, oldest first, plus at most one live
 * countdown (the wait before the next reconnect attempt).
 */
export class Timeline {
  readonly #list: HTMLOListElement;
  #countdown: { readonly line: HTMLElement; readonly span: HTMLElement; readonly started: number; readonly timer: ReturnType<typeof setInterval> } | undefined;

  constructor(list: HTMLOListElement) {
    this.#list = list;
  }

  add(entry: TimelineEntry): HTMLLIElement {
    const chips = entry.chips?.length
      ? h('ul', { class: 'chips' }, ...entry.chips.map((chip) => h('li', chip.tone ? { class: `is-${chip.tone}` } : {}, chip.text)))
      : null;
    const item = h(
      'li',
      { class: 'event', 'data-state': entry.state, 'data-kind': entry.kind },
      h('span', { class: 'event-dot', 'aria-hidden': 'true' }),
      h(
        'div',
        { class: 'event-main' },
        h(
          'div',
          { class: 'event-head' },
          h('span', { class: 'event-kind' }, entry.kind),
          h('span', { class: 'event-title' }, entry.title),
          h('time', { class: 'event-time' }, clockTime(Date.now())),
        ),
        entry.detail === undefined ? null : h('p', { class: 'event-detail' }, entry.detail),
        chips,
      ),
    );
    appendPinned(this.#list, item);
    while (this.#list.children.length > MAX_ENTRIES) this.#list.firstElementChild?.remove();
    return item;
  }

  /** Adds a live "next attempt in 0.8 s" line to `entry`, replacing any countdown still running. */
  countdown(entry: HTMLLIElement, delayMs: number): void {
    this.stopCountdown();
    const span = h('span', { class: 'countdown' });
    const line = h('p', { class: 'event-detail' }, 'next attempt in ', span);
    entry.querySelector('.event-main')?.append(line);
    const started = performance.now();
    const tick = (): void => {
      span.textContent = duration(Math.max(0, started + delayMs - performance.now()));
    };
    this.#countdown = { line, span, started, timer: setInterval(tick, TICK_MS) };
    tick();
  }

  /** The wait is over (the attempt started, or it was cancelled): say how long it really was. */
  stopCountdown(): void {
    const countdown = this.#countdown;
    if (countdown === undefined) return;
    clearInterval(countdown.timer);
    this.#countdown = undefined;
    countdown.span.textContent = duration(performance.now() - countdown.started);
    countdown.line.replaceChildren('waited ', countdown.span);
  }

  clear(): void {
    this.stopCountdown();
    this.#list.replaceChildren();
  }
}
