// Pan and zoom of the explainer canvas with d3-zoom. The cards are ordinary DOM (KaTeX output,
// text), so the zoom transform is applied as a CSS transform on one content element rather than
// redrawn; this module owns that wiring and nothing else.
// The wheel scrolls (as everywhere else on the page) and Ctrl/⌘ + wheel zooms: a tall column of
// cards is read by scrolling, and an accidental wheel turn must not shrink it to a thumbnail.
import { select, zoom, zoomIdentity, type ZoomBehavior, type ZoomTransform } from 'd3';
import type { ViewTransform } from './card-layout';

export interface CanvasZoom {
  /** Current scale (drag code converts pointer deltas to canvas units with it). */
  scale(): number;
  setView(view: ViewTransform, animate?: boolean): void;
  /** Centre a canvas-space box without changing the zoom. */
  reveal(box: { x: number; y: number; width: number; height: number }): void;
  zoomBy(factor: number): void;
  destroy(): void;
}

export const ZOOM_EXTENT: [number, number] = [0.25, 2.5];

export function attachCanvasZoom(
  viewport: HTMLElement,
  content: HTMLElement,
  onChange?: (transform: ZoomTransform) => void,
): CanvasZoom {
  let current: ZoomTransform = zoomIdentity;
  const behaviour: ZoomBehavior<HTMLElement, unknown> = zoom<HTMLElement, unknown>()
    .scaleExtent(ZOOM_EXTENT)
    // Only a press on the empty background pans: dragging a card, clicking a term or selecting
    // text inside a card must not move the canvas. The wheel zooms only with Ctrl/⌘.
    .filter((event: Event) => {
      if (event.type === 'wheel') return (event as WheelEvent).ctrlKey || (event as WheelEvent).metaKey;
      const target = event.target as HTMLElement | null;
      return !target?.closest('.formula-card') && !(event as MouseEvent).button;
    })
    .on('zoom', (event) => {
      current = event.transform;
      content.style.transform = `translate(${current.x}px, ${current.y}px) scale(${current.k})`;
      onChange?.(current);
    });
  const selection = select(viewport);
  selection.call(behaviour).on('dblclick.zoom', null);

  const scrollPan = (event: WheelEvent) => {
    if (event.ctrlKey || event.metaKey) return;
    event.preventDefault();
    selection.call(behaviour.translateBy, -event.deltaX / current.k, -event.deltaY / current.k);
  };
  viewport.addEventListener('wheel', scrollPan, { passive: false });

  const toTransform = (v: ViewTransform) => zoomIdentity.translate(v.x, v.y).scale(v.k);

  return {
    scale: () => current.k,
    setView(view, animate = false) {
      if (animate) selection.transition().duration(350).call(behaviour.transform, toTransform(view));
      else selection.call(behaviour.transform, toTransform(view));
    },
    reveal(box) {
      const { clientWidth: w, clientHeight: h } = viewport;
      const k = current.k;
      const target = zoomIdentity
        .translate(w / 2 - (box.x + box.width / 2) * k, Math.min(h / 2 - (box.y + box.height / 2) * k, 16 - box.y * k))
        .scale(k);
      selection.transition().duration(350).call(behaviour.transform, target);
    },
    zoomBy(factor) {
      selection.transition().duration(200).call(behaviour.scaleBy, factor);
    },
    destroy() {
      viewport.removeEventListener('wheel', scrollPan);
      selection.on('.zoom', null);
    },
  };
}
