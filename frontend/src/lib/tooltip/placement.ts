// Where to put the tooltip box so it stays inside the viewport: below-right of the anchor by
// default, flipped to the other side of the anchor when it would overflow.

export interface Placement {
  left: number;
  top: number;
}

export function placeTooltip(
  anchorX: number,
  anchorY: number,
  boxWidth: number,
  boxHeight: number,
  viewportWidth: number,
  viewportHeight: number,
  gap = 10,
): Placement {
  let left = anchorX + gap;
  if (left + boxWidth > viewportWidth - 4) left = anchorX - gap - boxWidth;
  let top = anchorY + gap;
  if (top + boxHeight > viewportHeight - 4) top = anchorY - gap - boxHeight;
  return { left: Math.max(4, left), top: Math.max(4, top) };
}
