import type { LifelineClientState } from '../client/index.js';

/** States that are waiting on something (`open`: greeting and restoring): their node pulses so the eye sees motion. */
const busy: ReadonlySet<LifelineClientState> = new Set(['connecting', 'open', 'reconnecting', 'closing']);

/**
 * Lights the current state in the SVG diagram and the arrow of the transition that led there
 * (when the diagram draws one; transitions it leaves out simply light no arrow).
 */
export function showState(diagram: SVGSVGElement, to: LifelineClientState, from: LifelineClientState | undefined): void {
  // forEach, not for-of: the project's lib has no DOM.Iterable.
  diagram.querySelectorAll<SVGGElement>('.node').forEach((node) => {
    const current = node.dataset.state === to;
    node.classList.toggle('is-current', current);
    node.classList.toggle('is-busy', current && busy.has(to));
  });
  diagram.querySelectorAll<SVGPathElement>('.edge').forEach((edge) => {
    edge.classList.toggle('is-last', edge.dataset.from === from && edge.dataset.to === to);
  });
  keepInView(diagram, diagram.querySelector<SVGGElement>(`.node[data-state="${to}"]`));
}

/**
 * On a phone the diagram scrolls sideways; bring the lit state to the middle. Only the
 * diagram's own box scrolls (scrollIntoView could also jump the page to it).
 */
function keepInView(diagram: SVGSVGElement, node: SVGGElement | null): void {
  const box = diagram.parentElement;
  if (node === null || box === null || box.scrollWidth <= box.clientWidth) return;
  const target = node.getBoundingClientRect();
  const view = box.getBoundingClientRect();
  box.scrollLeft += target.left + target.width / 2 - (view.left + view.width / 2);
}
