// The rows of the shared tooltip for one token: every term the run stored for it, formatted
// (never recomputed), the one currently colouring the tokens first.
import type { TooltipContent, TooltipRow } from '../../lib/tooltip/tooltip.svelte';
import type { StepPayload } from '../../lib/types';
import { formatValue } from '../explorer/metric-info';

/** Display order: the push g first, then the objective and its parts, then inputs; unknown
 * columns follow alphabetically. */
const ORDER = [
  'grad_coef', 'token_objective', 'surrogate', 'advantage', 'ratio', 'log_ratio', 'clipped', 'clipped_low', 'clipped_high',
  'min_branch', 'kl', 'kl_penalty', 'entropy', 'entropy_rank', 'entropy_bonus', 'weight', 'selected',
  'logprob', 'old_logprob', 'ref_logprob', 'value', 'return',
];

/** Row labels for columns whose bare name says too little; every other row is labelled by its column. */
const LABELS: Record<string, string> = {
  grad_coef: 'g (push)',
};

export function termLabel(column: string): string {
  return LABELS[column] ?? column;
}

/** Token columns that identify the token rather than describe it. */
const IDENTITY = new Set(['offsets', 'token', 'position', 'token_id']);

const columnsOfStep = new WeakMap<StepPayload, string[]>();

function hasAnyValue(column: unknown): boolean {
  return Array.isArray(column) && column.some((v) => v !== null && v !== undefined);
}

/** Token columns to list, computed once per step payload (hovering must stay cheap). */
export function termColumns(step: StepPayload): string[] {
  const cached = columnsOfStep.get(step);
  if (cached) return cached;
  // Columns the run did not log at all (e.g. value/return without a critic) are left out.
  const names = Object.keys(step.tokens).filter((name) => !IDENTITY.has(name) && hasAnyValue(step.tokens[name]));
  const known = ORDER.filter((name) => names.includes(name));
  const rest = names.filter((name) => !ORDER.includes(name)).sort();
  const columns = [...known, ...rest];
  columnsOfStep.set(step, columns);
  return columns;
}

function cell(value: unknown): string {
  if (typeof value === 'number') return formatValue(value);
  if (value === null || value === undefined) return '—';
  return String(value);
}

/**
 * Tooltip content for the token at flat index `index` of response `responseIndex`.
 * `highlight` names the column (or "probability"/"clip") currently colouring the tokens.
 */
export function tokenTooltip(step: StepPayload, responseIndex: number, index: number, highlight: string): TooltipContent {
  const tokens = step.tokens;
  const text = (tokens.token as (string | null)[] | undefined)?.[index] ?? '';
  const position = (tokens.position as number[] | undefined)?.[index];
  const tokenId = (tokens.token_id as number[] | undefined)?.[index];
  const rows: TooltipRow[] = [];
  for (const name of termColumns(step)) {
    const column = tokens[name] as unknown[];
    rows.push({ label: termLabel(name), value: cell(column[index]), strong: name === highlight || (highlight === 'clip' && name.startsWith('clipped')) });
  }
  const logprob = (tokens.logprob as (number | null)[] | undefined)?.[index];
  if (typeof logprob === 'number') {
    rows.push({ label: 'probability = exp(logprob)', value: formatValue(Math.exp(logprob)), strong: highlight === 'probability' });
  }
  return {
    title: JSON.stringify(text),
    rows,
    note: `response ${responseIndex} · position ${position ?? '?'}${tokenId !== undefined ? ` · id ${tokenId}` : ''} · click to explain`,
  };
}
