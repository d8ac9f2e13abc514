// Small helpers over a metrics payload for display: colours per ring (run colours live in
// lib/run-styles.ts), the value shown at a focused step (the logged value of the nearest logged
// step, never an interpolation).
import type { MetricsPayload } from '../../lib/types';
import { nearestIndex } from './radial-geometry';

export const RING_COLOURS = ['#3056d3', '#d9480f', '#2b8a3e', '#862e9c'];

export interface ValueAtStep {
  step: number;
  value: number | null;
  /** The nearest logged step differs from the requested one (down-sampled metrics). */
  approximate: boolean;
}

export function valueAtStep(metrics: MetricsPayload, name: string, step: number): ValueAtStep | null {
  const column = metrics.columns[name];
  const index = nearestIndex(metrics.step, step);
  if (!column || index < 0) return null;
  const found = metrics.step[index];
  const value = column[index];
  return { step: found, value: typeof value === 'number' && Number.isFinite(value) ? value : null, approximate: found !== step };
}

export interface MetricsWindow {
  runId: string;
  /** Requested window, inclusive (the server's `start`/`end`). */
  start: number;
  end: number;
  payload: MetricsPayload;
}

/**
 * A down-sampled series with the full-resolution window [start, end] put in place of the
 * down-sampled points inside it: every point is one the server sent, in step order. Values are
 * copied, never interpolated; a metric the window lacks is null there.
 */
export function spliceWindow(base: MetricsPayload, window: MetricsWindow | null): MetricsPayload {
  if (!window || !window.payload.step.length) return base;
  const { start, end, payload } = window;
  const before: number[] = [];
  const after: number[] = [];
  base.step.forEach((step, i) => {
    if (step < start) before.push(i);
    else if (step > end) after.push(i);
  });
  const inside = payload.step.map((_, i) => i).filter((i) => payload.step[i] >= start && payload.step[i] <= end);
  const columns: MetricsPayload['columns'] = {};
  for (const [name, values] of Object.entries(base.columns)) {
    const fine = payload.columns[name];
    columns[name] = [
      ...before.map((i) => values[i]),
      ...inside.map((i) => (fine ? (fine[i] ?? null) : null)),
      ...after.map((i) => values[i]),
    ];
  }
  return {
    step: [...before.map((i) => base.step[i]), ...inside.map((i) => payload.step[i]), ...after.map((i) => base.step[i])],
    columns,
    downsampled: base.downsampled,
    total: base.total,
  };
}

/**
 * The window to fetch at full resolution around a focused step of a down-sampled run: ±`margin`
 * steps, or null when the one already held still covers focus ± `lens` (no refetch while the
 * pointer moves inside it).
 */
export function windowAround(focus: number, lens: number, margin: number, held: { start: number; end: number } | null): { start: number; end: number } | null {
  if (held && focus - lens >= held.start && focus + lens <= held.end) return null;
  return { start: Math.max(0, Math.floor(focus - margin)), end: Math.ceil(focus + margin) };
}

/** [min, max] of the finite values the server sent (the extent a ring or axis spans), or null. */
export function seriesRange(values: (number | null)[]): [number, number] | null {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v === null || !Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return min <= max ? [min, max] : null;
}
