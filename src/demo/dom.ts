/** Tiny DOM helpers: the page is a handful of elements, not worth a framework. */

/** The element with this id, checked to be of the expected class (a missing one is a page bug). */
export function byId<T extends Element>(id: string, type: abstract new () => T): T {
  const element = document.getElementById(id);
  if (!(element instanceof type)) throw new Error(`demo page: #${id} is missing or not a ${type.name}`);
  return element;
}

type Child = Node | string | null | undefined | false;

/**
 * Creates an element. Text goes in as text nodes, never as HTML, so chat text from other
 * people cannot inject markup.
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Readonly<Record<string, string>> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child);
  }
  return element;
}

/** `14:03:27.481`: local wall-clock time with milliseconds, for ordering events at a glance. */
export function clockTime(ms: number): string {
  const date = new Date(ms);
  const pad = (value: number, width = 2): string => String(value).padStart(width, '0');
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

/** `14:03`: short time for chat lines. */
export function shortTime(ms: number): string {
  const date = new Date(ms);
  return `${String(date.getHours()).padStart(2, '0')}:${String(date.getMinutes()).padStart(2, '0')}`;
}

/** `1.24 s` or `830 ms`. */
export function duration(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.max(0, Math.round(ms))} ms`;
}

/** Keeps a scrolled list pinned to its end, unless the reader scrolled up to read history. */
export function appendPinned(list: HTMLElement, item: HTMLElement): void {
  const atEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.append(item);
  if (atEnd) list.scrollTop = list.scrollHeight;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Creates an SVG element with attributes (for the sparkline and the admin charts). */
export function svg<K extends keyof SVGElementTagNameMap>(tag: K, attributes: Readonly<Record<string, string | number>> = {}): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  return element;
}

/** A stable hue (0-359) for a name, so each person keeps one avatar colour on every page. */
export function hueOf(name: string): number {
  let hash = 0;
  for (let i = 0; i < name.length; i++) hash = (hash * 31 + name.charCodeAt(i)) >>> 0;
  return hash % 360;
}

/** A round avatar with the name's initial, coloured by {@link hueOf} (a CSS variable: no inline style rule). */
export function avatar(name: string): HTMLSpanElement {
  const element = h('span', { class: 'avatar', 'aria-hidden': 'true' }, name.slice(0, 1));
  element.style.setProperty('--hue', String(hueOf(name)));
  return element;
}
