// Display helpers for the analyses panel: tabs, the "missing inputs" sentence, what-if requests of
// the variants an analysis lists. Formatting and picking only; every number comes from the server.
import type { Json } from '../../lib/types';
import type { WhatIfPayload } from '../comparison/whatif-view';

export interface AnalysisTab {
  name: string;
  label: string;
  /** Run-level analyses shown under the step-level one. */
  over_run?: string;
}

export const TABS: AnalysisTab[] = [
  { name: 'attribution', label: 'Attribution' },
  { name: 'forking', label: 'Forking tokens', over_run: 'entropy_over_run' },
  { name: 'difficulty', label: 'Difficulty bias', over_run: 'difficulty_over_run' },
  { name: 'length_bias', label: 'Length bias', over_run: 'length_over_run' },
  { name: 'mismatch', label: 'Mismatch' },
  { name: 'clip_asymmetry', label: 'Clip asymmetry' },
];

/** What a run lacks for an analysis, in one sentence (null when nothing is missing). */
export function missingSentence(missing: string[], optional: string[] = []): string | null {
  const describe = (name: string) => (name.startsWith('metrics.') ? `the metric ${name.slice(8)}` : `the column ${name}`);
  if (missing.length) return `Not available for this run: it does not store ${missing.map(describe).join(', ')}.`;
  if (optional.length) return `Less exact here: this run does not store ${optional.map(describe).join(', ')}.`;
  return null;
}

export interface Variant {
  label: string;
  algo: string | null;
  hparams: Record<string, Json>;
}

/** The algorithm a variant's what-if asks for: its own, or the run's. */
export function variantAlgo(variant: Variant, runAlgorithm: string | null): string | null {
  return variant.algo ?? runAlgorithm;
}

export interface VariantRow {
  label: string;
  lossStored: number | null;
  lossWhatIf: number | null;
  pushFlips: number | null;
  weights: (number | null)[] | null;
}

/** A what-if answer reduced to what the panel shows (server values as they are). */
export function variantRow(label: string, payload: WhatIfPayload): VariantRow {
  const summary = payload.summary;
  return {
    label,
    lossStored: summary?.loss?.stored ?? null,
    lossWhatIf: summary?.loss?.whatif ?? null,
    pushFlips: summary?.push_flips ? summary.push_flips.count : null,
    weights: summary?.response_weight?.whatif ?? null,
  };
}

export function percent(value: number | null | undefined): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '—' : `${(value * 100).toFixed(1)}%`;
}

/** Bar heights of a histogram, as fractions of the tallest bar (drawing only). */
export function barFractions(counts: number[]): number[] {
  const top = Math.max(0, ...counts);
  return counts.map((c) => (top > 0 ? c / top : 0));
}

/** The four clip-asymmetry cells of unipo.analyses.clip_asymmetry, with their line labels. */
export const CLIP_CELLS: { key: 'pos_high' | 'pos_low' | 'neg_high' | 'neg_low'; label: string }[] = [
  { key: 'pos_high', label: 'A > 0, clipped above (1+ε_high)' },
  { key: 'pos_low', label: 'A > 0, clipped below' },
  { key: 'neg_high', label: 'A < 0, clipped above' },
  { key: 'neg_low', label: 'A < 0, clipped below (1−ε_low)' },
];

/** A run's legend entry in the length-drift chart: its algorithm and aggregation. */
export function driftLabel(run: { run: string; algorithm: string | null; loss_aggregation: string | null }): string {
  return `${run.algorithm ?? run.run}${run.loss_aggregation ? ` · ${run.loss_aggregation}` : ''} (${run.run})`;
}

/** A number with its sign, for trends and deltas ("+1.25", "−0.5", "—"). */
export function signed(value: number | null | undefined, digits = 2): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  const text = Math.abs(value).toFixed(digits);
  return value > 0 ? `+${text}` : value < 0 ? `−${text}` : text;
}
