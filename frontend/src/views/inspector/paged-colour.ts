// Colours of the paged inspector: the scale's domain comes from the server's quantiles over the
// whole step (so every page shares one legend), and one response's token page is presented in the
// step shape so the whole-step inspector's modules (colour values, filters, tooltip) serve it unchanged.
import { CLIP_CATEGORIES, categoricalScale, divergingScale, sequentialScale, type ColourScale } from '../../lib/colour-scale';
import type { ResponseTokens } from '../../lib/arrow/token-page';
import type { ColourSource } from '../../lib/selection';
import type { ColumnStats, StepPayload, StepSummary } from '../../lib/types';

/** The token columns a source needs (what a token page asks for). */
const NEEDS: Record<string, string[]> = {
  probability: ['logprob'],
  clip: ['clipped_low', 'clipped_high'],
  contribution: ['grad_contribution'],
};

/** Columns every page carries besides the colour source's: the token filters and the tooltip's main terms. */
export const PAGE_COLUMNS = [
  'token', 'grad_coef', 'token_objective', 'surrogate', 'advantage', 'ratio', 'clipped', 'clipped_low', 'clipped_high',
  'kl', 'kl_penalty', 'entropy', 'entropy_rank', 'weight', 'logprob', 'old_logprob',
];

/** The columns to ask for: PAGE_COLUMNS and the source's own, limited to what the step has. */
export function pageColumns(summary: StepSummary, source: ColourSource): string[] {
  const wanted = new Set([...PAGE_COLUMNS, ...(NEEDS[source] ?? [source])]);
  return summary.token_columns.filter((name) => wanted.has(name));
}

/** Which colour sources the step can show: their column is stored, and has a finite value when
 * the summary carries its stats (a column of nulls paints nothing). */
export function summarySources(summary: StepSummary, sources: ColourSource[]): ColourSource[] {
  const has = (name: string) =>
    summary.token_columns.includes(name) && (summary.stats[name] === undefined || summary.stats[name].count > 0);
  return sources.filter((s) => (NEEDS[s] ?? [s]).some(has));
}

/** The token column whose whole-step quantiles give a source's colour range (null: a fixed range). */
export function statsColumn(source: ColourSource): string | null {
  if (source === 'probability' || source === 'clip') return null;
  return NEEDS[source]?.[0] ?? source;
}

function quantile(stats: ColumnStats | undefined, key: string): number | null {
  const value = stats?.quantiles?.[key];
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** The scale for a source with the whole step's 2nd–98th percentiles (server-computed) as its range. */
export function pagedScale(source: ColourSource, summary: StepSummary): ColourScale {
  const column = NEEDS[source]?.[0] ?? source;
  const stats = summary.stats[column];
  const low = quantile(stats, '0.02');
  const high = quantile(stats, '0.98');
  const range = low !== null && high !== null ? [low, high] : [];
  switch (source) {
    case 'probability':
      return sequentialScale([], [0, 1]);
    case 'clip':
      return categoricalScale(CLIP_CATEGORIES);
    case 'entropy':
    case 'weight':
    case 'contribution':
      return sequentialScale(range, undefined, 0, 100);
    case 'ratio':
      return divergingScale(range, 0, 100, 1);
    default:
      return divergingScale(range, 0, 100);
  }
}

/** One response's token page in the §3 step shape (offsets [0, n]), for the shared inspector modules. */
export function responseAsStep(summary: StepSummary, tokens: ResponseTokens): StepPayload {
  const columns: Record<string, (number | string | null)[] | number[]> = {
    offsets: [0, tokens.token.length || tokens.position.length],
    position: tokens.position,
    token: tokens.token,
  };
  for (const [name, values] of Object.entries(tokens.columns)) columns[name] = values;
  return {
    step: summary.step,
    rollout: summary.rollout ?? 0,
    epoch: summary.epoch ?? 0,
    minibatch: summary.minibatch ?? 0,
    metrics: summary.metrics,
    responses: { response: [tokens.response] },
    tokens: columns as StepPayload['tokens'],
  };
}

