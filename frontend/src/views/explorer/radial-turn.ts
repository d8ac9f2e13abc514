// The radial chart's turn: when the explainer opens, the selected step is brought to a fixed
// angle (the reference UNIPO's behaviour). Geometry only: angles in radians, clockwise from 12.

const TAU = 2 * Math.PI;

/** The shortest signed turn taking angle `from` to angle `to`, scaled by `blend` (0…1, the animation). */
export function turnBetween(from: number, to: number, blend = 1): number {
  let turn = (to - from) % TAU;
  if (turn > Math.PI) turn -= TAU;
  if (turn < -Math.PI) turn += TAU;
  return turn * Math.min(1, Math.max(0, blend));
}

/** The unturned angle under a pointer at `angle` on a chart turned by `rotation`, in [0, 2π). */
export function unturn(angle: number, rotation: number): number {
  const a = (angle - rotation) % TAU;
  return a < 0 ? a + TAU : a;
}
