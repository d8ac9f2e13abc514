// Dragging a card by its title bar. Pointer deltas are divided by the canvas zoom so the card
// stays under the pointer at any zoom level; the caller decides what to do with the new position.
import type { Point } from './card-layout';

export function attachCardDrag(
  handle: HTMLElement,
  getStart: () => Point,
  getScale: () => number,
  onMove: (p: Point) => void,
  onEnd: (p: Point) => void,
): () => void {
  let origin: { pointer: Point; card: Point } | null = null;
  let last: Point | null = null;

  const down = (event: PointerEvent) => {
    if (event.button !== 0) return;
    if ((event.target as HTMLElement).closest('button, select, a, input')) return;
    origin = { pointer: { x: event.clientX, y: event.clientY }, card: getStart() };
    last = null;
    handle.setPointerCapture(event.pointerId);
    event.preventDefault();
  };
  const move = (event: PointerEvent) => {
    if (!origin) return;
    const k = getScale() || 1;
    last = {
      x: origin.card.x + (event.clientX - origin.pointer.x) / k,
      y: origin.card.y + (event.clientY - origin.pointer.y) / k,
    };
    onMove(last);
  };
  const up = (event: PointerEvent) => {
    if (!origin) return;
    if (handle.hasPointerCapture(event.pointerId)) handle.releasePointerCapture(event.pointerId);
    origin = null;
    if (last) onEnd(last);
  };
  handle.addEventListener('pointerdown', down);
  handle.addEventListener('pointermove', move);
  handle.addEventListener('pointerup', up);
  handle.addEventListener('pointercancel', up);
  return () => {
    handle.removeEventListener('pointerdown', down);
    handle.removeEventListener('pointermove', move);
    handle.removeEventListener('pointerup', up);
    handle.removeEventListener('pointercancel', up);
  };
}
