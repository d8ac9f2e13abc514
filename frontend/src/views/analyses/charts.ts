// Pixel geometry of the analyses' small charts (scatter small multiples, lines over the run). Drawing
// only: the values plotted are the server's, and fits (slope, correlation) come from unipo.analyses.

export interface Box {
  width: number;
  height: number;
  pad: number;
}

export interface Extent {
  min: number;
  max: number;
}

/** Finite min/max of several series; zero-width extents are widened so a flat series draws mid-box. */
export function extent(series: (number | null)[][], includeZero = false): Extent {
  let min = Infinity;
  let max = -Infinity;
  for (const values of series)
    for (const v of values)
      if (v !== null && Number.isFinite(v)) {
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
  if (!Number.isFinite(min)) return { min: 0, max: 1 };
  if (includeZero) {
    min = Math.min(min, 0);
    max = Math.max(max, 0);
  }
  if (max === min) {
    // All zero with a zero baseline (e.g. nothing clipped): the axis runs 0 → 1, the line at the bottom.
    if (includeZero && max === 0) return { min: 0, max: 1 };
    const half = Math.abs(max) > 0 ? Math.abs(max) * 0.5 : 0.5;
    return { min: min - half, max: max + half };
  }
  return { min, max };
}

/** Map a value of `domain` to a pixel in [pad, size − pad] (y grows downwards when `flip`). */
export function project(value: number, domain: Extent, size: number, pad: number, flip = false): number {
  const t = (value - domain.min) / (domain.max - domain.min);
  const px = pad + t * (size - 2 * pad);
  return flip ? size - px : px;
}

export interface Point {
  cx: number;
  cy: number;
}

/** Scatter points of (x, y) pairs; pairs with a missing value are left out. */
export function scatter(xs: number[], ys: (number | null)[], box: Box, xDomain: Extent, yDomain: Extent): Point[] {
  const points: Point[] = [];
  xs.forEach((x, i) => {
    const y = ys[i];
    if (y === null || y === undefined || !Number.isFinite(y) || !Number.isFinite(x)) return;
    points.push({ cx: project(x, xDomain, box.width, box.pad), cy: project(y, yDomain, box.height, box.pad, true) });
  });
  return points;
}

/** SVG polyline `points` of a series; a missing value breaks nothing, it is skipped. */
export function polyline(xs: number[], ys: (number | null)[], box: Box, xDomain: Extent, yDomain: Extent): string {
  return scatter(xs, ys, box, xDomain, yDomain)
    .map((p) => `${p.cx.toFixed(1)},${p.cy.toFixed(1)}`)
    .join(' ');
}

/** A fixed, colour-blind-friendly palette, one colour per series index. */
export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2'];

export function colour(index: number): string {
  return PALETTE[((index % PALETTE.length) + PALETTE.length) % PALETTE.length];
}
