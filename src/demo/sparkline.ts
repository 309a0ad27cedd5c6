import { duration, svg } from './dom.js';

/** Round trips kept: one per heartbeat ping, so 80 s at one ping every 2 s. */
const SAMPLES = 40;
/** The line fills the width from the left until this many samples, then scrolls. */
const MIN_SLOTS = 12;
const WIDTH = 120;
const HEIGHT = 28;

/**
 * The heartbeat round trip as a small inline SVG: one point per ping, a red tick for a ping
 * that got no pong (the link went silent), and the latest value and the median beside it.
 */
export class Sparkline {
  /** Round trips in ms; null for a lost ping. */
  readonly #samples: (number | null)[] = [];

  constructor(
    private readonly chart: SVGSVGElement,
    private readonly value: HTMLElement,
  ) {}

  push(ms: number): void {
    this.#add(ms);
    this.value.textContent = duration(ms);
  }

  lost(): void {
    this.#add(null);
    this.value.textContent = 'no pong';
  }

  /** A new link: its first round trip comes with its first ping. */
  measuring(): void {
    if (this.#samples.at(-1) === null) this.value.textContent = 'measuring…';
  }

  #add(sample: number | null): void {
    this.#samples.push(sample);
    if (this.#samples.length > SAMPLES) this.#samples.shift();
    this.#render();
  }

  #render(): void {
    const measured = this.#samples.filter((s): s is number => s !== null);
    const top = Math.max(5, ...measured) * 1.15;
    const slots = Math.max(MIN_SLOTS, this.#samples.length);
    const x = (i: number): number => (i / (slots - 1)) * WIDTH;
    const y = (ms: number): number => HEIGHT - (ms / top) * (HEIGHT - 2);
    const parts: SVGElement[] = [];
    // One path per unbroken run of measured samples: a lost ping breaks the line.
    let run: (readonly [number, number])[] = [];
    const flush = (): void => {
      const [first, ...rest] = run;
      run = [];
      if (first === undefined) return;
      // A lone measurement between lost pings: a round-capped stub, a dot whatever the chart's stretch.
      if (rest.length === 0) return void parts.push(svg('path', { class: 'spark-line spark-dot', d: `M${first[0].toFixed(1)} ${first[1].toFixed(1)} h0.01` }));
      const line = [first, ...rest].map(([px, py]) => `${px.toFixed(1)} ${py.toFixed(1)}`).join(' L');
      const last = rest[rest.length - 1] ?? first;
      parts.push(svg('path', { class: 'spark-area', d: `M${first[0].toFixed(1)} ${HEIGHT} L${line} L${last[0].toFixed(1)} ${HEIGHT} Z` }));
      parts.push(svg('path', { class: 'spark-line', d: `M${line}` }));
    };
    this.#samples.forEach((sample, at) => {
      if (sample === null) {
        flush();
        parts.push(svg('rect', { class: 'spark-lost', x: x(at) - 1, y: 0, width: 2, height: HEIGHT }));
      } else {
        run.push([x(at), y(sample)]);
      }
    });
    flush();
    this.chart.replaceChildren(...parts);
    const sorted = [...measured].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    const lost = this.#samples.length - measured.length;
    this.chart.setAttribute(
      'aria-label',
      median === undefined
        ? `No round trips measured; ${lost} pings lost`
        : `Heartbeat round trip over the last ${this.#samples.length} pings: median ${duration(median)}, ${lost} lost`,
    );
    this.chart.dataset.samples = String(measured.length);
    this.chart.dataset.lost = String(lost);
  }
}
