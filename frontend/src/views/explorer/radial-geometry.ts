// Pure geometry of the radial Training Explorer: where a step sits on the circle, the fisheye
// lens around the focused step, and the ring bands. Display math only (pixels and angles).

/** Empty arc (radians) left at 12 o'clock between the last step and step 0, so the two ends never touch. */
export const DEFAULT_GAP = Math.PI / 14;

/**
 * Angle of a normalised time position t ∈ [0, 1], clockwise from 12 o'clock (0 rad = up, as
 * d3.arc and d3.lineRadial measure it). t = 0 starts just after the gap, t = 1 ends just before it.
 */
export function angleOf(t: number, gap = DEFAULT_GAP): number {
  return gap / 2 + Math.min(1, Math.max(0, t)) * (2 * Math.PI - gap);
}

/**
 * Inverse of angleOf: the time position under an angle. Inside the gap it is null, except within
 * `snap` radians of either end, which map to that end (0 or 1): a click just before the first
 * step's dot, or just after the last one's, still means that step.
 */
export function positionOfAngle(angle: number, gap = DEFAULT_GAP, snap = 0): number | null {
  const a = ((angle % (2 * Math.PI)) + 2 * Math.PI) % (2 * Math.PI);
  const span = 2 * Math.PI - gap;
  const start = gap / 2;
  const epsilon = 1e-9; // float round-off at the two ends of the arc
  if (a >= start - epsilon && a <= start + span + epsilon) return Math.min(1, Math.max(0, (a - start) / span));
  // In the gap: distance back to the first step (clockwise from 12 o'clock) or on past the last.
  const beforeFirst = start - a >= 0 ? start - a : start + 2 * Math.PI - a;
  const afterLast = a - (start + span) >= 0 ? a - (start + span) : a + 2 * Math.PI - (start + span);
  if (Math.min(beforeFirst, afterLast) > snap) return null;
  return beforeFirst <= afterLast ? 0 : 1;
}

/** Radians of the gap that still select the nearer end step: all of it, split at 12 o'clock. */
export const END_SNAP = DEFAULT_GAP / 2 + 1e-9;

/** Angle (clockwise from 12 o'clock) of a point relative to the centre, in screen coordinates (y down). */
export function pointerAngle(dx: number, dy: number): number {
  const a = Math.atan2(dx, -dy);
  return a < 0 ? a + 2 * Math.PI : a;
}

/** Normalised position of a step within [first, last]. */
export function stepPosition(step: number, first: number, last: number): number {
  return last > first ? (step - first) / (last - first) : 0.5;
}

export interface Fisheye {
  /** Distorted position of an undistorted t. Strictly increasing, fixes 0 and 1. */
  forward(t: number): number;
  /** Undistorted t of a distorted position. */
  inverse(u: number): number;
  /** The magnified window [from, to] in undistorted coordinates. */
  window: [number, number];
}

const IDENTITY: Fisheye = { forward: (t) => t, inverse: (u) => u, window: [0, 0] };

/**
 * Piecewise-linear fisheye: the window focus ± halfWidth (undistorted units) is stretched by
 * `magnification` (never to more than `maxShare` of the circle); the rest is compressed evenly.
 * Piecewise linear with positive slopes, so it is monotonic and exactly invertible.
 */
export function makeFisheye(focus: number | null, halfWidth: number, magnification = 5, maxShare = 0.4): Fisheye {
  if (focus === null || !(halfWidth > 0)) return IDENTITY;
  const a = Math.max(0, focus - halfWidth);
  const b = Math.min(1, focus + halfWidth);
  const length = b - a;
  if (length <= 0 || length >= 1) return IDENTITY;
  const stretched = Math.max(length, Math.min(maxShare, length * magnification));
  const outsideScale = (1 - stretched) / (1 - length);
  const left = a * outsideScale; // distorted width before the window
  const insideScale = stretched / length;
  return {
    window: [a, b],
    forward(t) {
      const x = Math.min(1, Math.max(0, t));
      if (x < a) return x * outsideScale;
      if (x <= b) return left + (x - a) * insideScale;
      return left + stretched + (x - b) * outsideScale;
    },
    inverse(u) {
      const y = Math.min(1, Math.max(0, u));
      if (y < left) return y / outsideScale;
      if (y <= left + stretched) return a + (y - left) / insideScale;
      return b + (y - left - stretched) / outsideScale;
    },
  };
}

export interface RingBand {
  inner: number;
  outer: number;
}

/**
 * Concentric bands for `count` metric rings between innerRadius and outerRadius, the first
 * metric outermost, with `padding` pixels between rings.
 */
export function ringBands(count: number, innerRadius: number, outerRadius: number, padding = 8): RingBand[] {
  if (count <= 0) return [];
  const width = (outerRadius - innerRadius - padding * (count - 1)) / count;
  return Array.from({ length: count }, (_, i) => {
    const outer = outerRadius - i * (width + padding);
    return { inner: outer - width, outer };
  });
}

/** Radius of a value inside its ring, by the ring's own [min, max]; null for a missing value. */
export function valueRadius(value: number | null, min: number, max: number, band: RingBand): number | null {
  if (value === null || !Number.isFinite(value)) return null;
  const t = max > min ? (value - min) / (max - min) : 0.5;
  return band.inner + t * (band.outer - band.inner);
}

/** Index of the step nearest to `step` in an ascending array (binary search). */
export function nearestIndex(steps: number[], step: number): number {
  if (steps.length === 0) return -1;
  let lo = 0;
  let hi = steps.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (steps[mid] <= step) lo = mid;
    else hi = mid;
  }
  return Math.abs(steps[hi] - step) < Math.abs(steps[lo] - step) ? hi : lo;
}
