import { closeActionOf, describeCloseCode } from '../../core/close-codes.js';
import { h, svg } from '../dom.js';

const W = 480;
const H = 168;
const PAD = { left: 36, right: 8, top: 10, bottom: 20 };

/** The smallest of 1, 2, 4, 6, 8 × 10^n that is at least `value` (and at least `floor`): its half is a round gridline too. */
export function niceCeil(value: number, floor = 1): number {
  const v = Math.max(value, floor);
  const power = 10 ** Math.floor(Math.log10(v));
  for (const step of [1, 2, 4, 6, 8, 10]) if (step * power >= v) return step * power;
  return 10 * power;
}

/** The shortest span a chart shows, so its first seconds are not one squeezed point. */
const MIN_SPAN_MS = 30_000;

/** `1.2k`, `34`, `0.5`: short axis and tile numbers. */
export function compact(value: number): string {
  if (value >= 1_000_000) return `${(value / 1_000_000).toFixed(value >= 10_000_000 ? 0 : 1)}M`;
  if (value >= 1000) return `${(value / 1000).toFixed(value >= 10_000 ? 0 : 1)}k`;
  if (value > 0 && value < 10 && !Number.isInteger(value)) return value.toFixed(1);
  return String(Math.round(value));
}

export interface Series {
  /** CSS class of its line (colour). */
  readonly className: string;
  /** `[time ms, value]`; undefined values break the line. */
  readonly points: readonly (readonly [number, number | undefined])[];
  /** Fill the area under it. */
  readonly area?: boolean;
}

/**
 * A time-series line chart in SVG, redrawn whole on every update (a hundred points: cheaper
 * than diffing): three gridlines with their values; the x axis spans the data it has, from
 * 30 s up to `windowMs`.
 */
export class LineChart {
  constructor(
    private readonly chart: SVGSVGElement,
    private readonly windowMs: number,
    private readonly floor = 1,
  ) {
    chart.setAttribute('viewBox', `0 0 ${W} ${H}`);
  }

  render(series: readonly Series[], now: number): void {
    const first = Math.min(now, ...series.flatMap((s) => s.points.map(([t]) => t)));
    const span = Math.min(this.windowMs, Math.max(MIN_SPAN_MS, now - first));
    const values = series.flatMap((s) => s.points.map(([, v]) => v ?? 0));
    const top = niceCeil(Math.max(0, ...values) * 1.1, this.floor);
    const plotW = W - PAD.left - PAD.right;
    const plotH = H - PAD.top - PAD.bottom;
    const x = (t: number): number => PAD.left + plotW * (1 - (now - t) / span);
    const y = (v: number): number => PAD.top + plotH * (1 - v / top);
    const parts: SVGElement[] = [];
    for (const fraction of [0, 0.5, 1]) {
      const value = top * fraction;
      parts.push(svg('line', { class: fraction === 0 ? 'axis' : 'grid', x1: PAD.left, x2: W - PAD.right, y1: y(value), y2: y(value) }));
      const tick = svg('text', { class: 'tick', x: PAD.left - 6, y: y(value) + 4, 'text-anchor': 'end' });
      tick.textContent = compact(value);
      parts.push(tick);
    }
    const seconds = Math.round(span / 1000);
    for (const [label, at, anchor] of [[`-${seconds} s`, now - span, 'start'], ['now', now, 'end']] as const) {
      const tick = svg('text', { class: 'tick', x: x(at), y: H - 4, 'text-anchor': anchor });
      tick.textContent = label;
      parts.push(tick);
    }
    for (const s of series) {
      for (const run of runs(s.points)) {
        const d = run.map(([t, v], i) => `${i === 0 ? 'M' : 'L'}${x(t).toFixed(1)} ${y(v).toFixed(1)}`).join(' ');
        const first = run[0];
        const last = run[run.length - 1];
        if (s.area && first && last) parts.push(svg('path', { class: `area ${s.className}`, d: `${d} L${x(last[0]).toFixed(1)} ${y(0)} L${x(first[0]).toFixed(1)} ${y(0)} Z` }));
        parts.push(svg('path', { class: `line ${s.className}`, d: run.length === 1 ? `${d} h1` : d }));
      }
    }
    this.chart.replaceChildren(...parts);
  }
}

/** Unbroken stretches of defined values. */
function runs(points: Series['points']): (readonly [number, number])[][] {
  const out: (readonly [number, number])[][] = [];
  let run: (readonly [number, number])[] = [];
  for (const [t, v] of points) {
    if (v === undefined) {
      if (run.length > 0) out.push(run);
      run = [];
    } else {
      run.push([t, v]);
    }
  }
  if (run.length > 0) out.push(run);
  return out;
}

/**
 * Close codes as horizontal bars, most frequent first, each with its name and coloured by what
 * a client does after it (stop, reconnect, fatal, refresh credentials).
 */
export function renderCloseBars(list: HTMLOListElement, closes: ReadonlyMap<number, number>): void {
  const rows = [...closes.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  const most = Math.max(1, ...rows.map(([, n]) => n));
  list.replaceChildren(
    ...rows.map(([code, n]) => {
      const info = describeCloseCode(code);
      const fill = h('span', { class: 'bar-fill' });
      fill.style.setProperty('--share', String(n / most));
      return h(
        'li',
        { class: `bar is-${closeActionOf(code)}`, 'data-code': String(code), title: info.meaning },
        h('span', { class: 'bar-code' }, String(code)),
        h('span', { class: 'bar-name' }, info.name),
        h('span', { class: 'bar-track', 'aria-hidden': 'true' }, fill),
        h('span', { class: 'bar-count' }, String(n)),
      );
    }),
  );
  if (rows.length === 0) list.append(h('li', { class: 'bar-empty' }, 'No connection has closed yet.'));
}
