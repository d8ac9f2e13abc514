// Small helpers over a metrics payload for display: colours per ring / run, the value shown at
// a focused step (the logged value of the nearest logged step, never an interpolation).
import type { MetricsPayload } from '../../lib/types';
import { nearestIndex } from './radial-geometry';

export const RING_COLOURS = ['#3056d3', '#d9480f', '#2b8a3e', '#862e9c'];
export const RUN_COLOURS = ['#3056d3', '#d9480f', '#2b8a3e', '#862e9c', '#c2255c', '#0b7285', '#5c940d', '#e67700'];

export function runColour(index: number): string {
  return RUN_COLOURS[index % RUN_COLOURS.length];
}

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
