// Y scaling of the linear overlay. Runs of different algorithms log metrics whose ranges differ by
// orders of magnitude (REINFORCE's summed loss spans -2 … 4.7 where token-mean losses stay within
// ±0.02): on one shared axis the small ones flatten to a line. Each panel is therefore drawn
// either on one shared axis or with every run normalised to its own [min, max]; display math
// only — tooltips keep showing the stored values.

export type YMode = 'auto' | 'shared' | 'normalised';

/** Above this ratio between the widest and the narrowest run's range, 'auto' normalises. */
export const AUTO_SPREAD = 20;

export interface PanelScaling {
  normalised: boolean;
  /** Run id → that run's finite [min, max] of the metric (absent: no value). */
  ranges: Map<string, [number, number]>;
  /** Widest range / narrowest non-zero range over the runs (1 with fewer than two runs). */
  spread: number;
}

function finiteRange(values: readonly (number | null)[] | undefined): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values ?? []) {
    if (v === null || !Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi ? [lo, hi] : null;
}

export function panelScaling(
  runs: readonly { id: string; columns: Record<string, (number | null)[]> }[],
  metric: string,
  mode: YMode,
): PanelScaling {
  const ranges = new Map<string, [number, number]>();
  for (const run of runs) {
    const range = finiteRange(run.columns[metric]);
    if (range) ranges.set(run.id, range);
  }
  const spans = [...ranges.values()].map(([lo, hi]) => hi - lo).filter((s) => s > 0);
  const spread = spans.length >= 2 ? Math.max(...spans) / Math.min(...spans) : 1;
  const normalised = mode === 'normalised' || (mode === 'auto' && ranges.size >= 2 && spread > AUTO_SPREAD);
  return { normalised, ranges, spread };
}

/** A value's height on a normalised panel: 0 at the run's min, 1 at its max (0.5 for a constant). */
export function normalise(value: number, range: [number, number]): number {
  const [lo, hi] = range;
  return hi > lo ? (value - lo) / (hi - lo) : 0.5;
}

/** Metrics whose scale depends on the loss aggregation (sum vs mean over tokens, constants). */
export function isLossMetric(name: string): boolean {
  return /(^|_)loss($|_)/.test(name);
}

/**
 * One sentence when the selected runs aggregate their losses differently (their losses are then
 * not on one scale: a token sum grows with length, a token mean does not), else null. `runs`
 * give each run's label and its stored `loss_aggregation` hyper-parameter (null when unknown).
 */
export function lossComparabilityNote(runs: readonly { label: string; aggregation: string | null }[]): string | null {
  const known = runs.filter((r) => r.aggregation);
  const kinds = new Set(known.map((r) => r.aggregation));
  const unknown = runs.filter((r) => !r.aggregation).map((r) => r.label);
  if (kinds.size <= 1 && !(unknown.length && known.length)) return null;
  const byKind = [...kinds].map((kind) => `${kind} (${known.filter((r) => r.aggregation === kind).map((r) => r.label).join(', ')})`);
  const tail = unknown.length ? `; not stored for ${unknown.join(', ')}` : '';
  return `Losses are not comparable across these runs: they aggregate tokens differently — ${byKind.join('; ')}${tail}. Compare their shapes, not their values.`;
}
