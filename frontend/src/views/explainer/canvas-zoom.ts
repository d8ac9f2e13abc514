// Pan and zoom of the explainer canvas with d3-zoom. The cards are ordinary DOM (KaTeX output,
// text), so the zoom transform is applied as a CSS transform on one content element rather than
// redrawn; this module owns that wiring and nothing else.
// The wheel scrolls the page until the canvas is focused, then pans it; Ctrl/⌘ + wheel zooms: an
// accidental wheel turn must not shrink the cards to a thumbnail or stop the page scrolling.
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

// Down to 0.1 so that Fit can always show every card (a long spec on a 720 px screen).
export const ZOOM_EXTENT: [number, number] = [0.1, 2.5];

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

  // The plain wheel pans the canvas only once the canvas has focus (a click or Tab into it): an
  // unfocused canvas lets the page scroll past it (it used to swallow the page's wheel).
  const scrollPan = (event: WheelEvent) => {
    if (event.ctrlKey || event.metaKey) return;
    if (!viewport.contains(document.activeElement)) return;
    event.preventDefault();
    selection.call(behaviour.translateBy, -event.deltaX / current.k, -event.deltaY / current.k);
  };
  viewport.addEventListener('wheel', scrollPan, { passive: false });
  // d3-zoom cancels the mousedown (which would focus the canvas); focus it ourselves so the
  // wheel pans after a click into the canvas, as after Tab.
  const focusOnPress = () => {
    if (!viewport.contains(document.activeElement)) viewport.focus({ preventScroll: true });
  };
  viewport.addEventListener('pointerdown', focusOnPress, true);

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
      viewport.removeEventListener('pointerdown', focusOnPress, true);
      selection.on('.zoom', null);
    },
  };
}
