// Binds formula terms to stored values. A term names the stored column that holds its value
// (`field`); for a selected token that column is read from the step payload's per-token columns,
// or else from its per-response columns. Nothing here computes a value: it only looks them up.
import type { StepPayload, TokenSelection } from '../../lib/types';

export type StoredValue = number | string | boolean | null;

export interface BoundValue {
  /** 'token' / 'response': where the value was found; 'missing': the step has no such column. */
  source: 'token' | 'response' | 'missing';
  value: StoredValue;
}

/** Responses in the step. The server sends N + 1 offsets (the last equals the token count); a
 * per-response column, when there is one, is the authority. */
export function responseCount(step: StepPayload): number {
  for (const column of Object.values(step.responses)) if (Array.isArray(column)) return column.length;
  const offsets = step.tokens.offsets;
  return offsets.length > 0 && offsets[offsets.length - 1] === tokenCount(step) ? offsets.length - 1 : offsets.length;
}

export function tokenCount(step: StepPayload): number {
  for (const [name, column] of Object.entries(step.tokens)) {
    if (name !== 'offsets' && Array.isArray(column)) return column.length;
  }
  return 0;
}

/** Number of completion tokens of response `response` (offsets may have N or N+1 entries). */
export function responseLength(step: StepPayload, response: number): number {
  const offsets = step.tokens.offsets;
  if (response < 0 || response >= responseCount(step)) return 0;
  const end = response + 1 < offsets.length ? offsets[response + 1] : tokenCount(step);
  return Math.max(0, end - offsets[response]);
}

/** Flat index of the selected token in the step's token columns, or null when out of range. */
export function flatTokenIndex(step: StepPayload, selection: TokenSelection): number | null {
  const { response, position } = selection;
  if (!Number.isInteger(response) || !Number.isInteger(position)) return null;
  if (position < 0 || position >= responseLength(step, response)) return null;
  return step.tokens.offsets[response] + position;
}

export function lookupField(step: StepPayload, selection: TokenSelection, field: string): BoundValue {
  if (field !== 'offsets' && Object.hasOwn(step.tokens, field)) {
    const index = flatTokenIndex(step, selection);
    const column = step.tokens[field] as StoredValue[];
    if (index !== null && index < column.length) return { source: 'token', value: column[index] ?? null };
    return { source: 'missing', value: null };
  }
  if (Object.hasOwn(step.responses, field)) {
    const column = step.responses[field];
    if (selection.response >= 0 && selection.response < column.length) {
      return { source: 'response', value: column[selection.response] ?? null };
    }
  }
  return { source: 'missing', value: null };
}

/** Inputs of a step (not results of an algorithm): a what-if payload may leave them out, and they
 * are the same under any algorithm, so they may be read from the stored step instead. */
export const INPUT_FIELDS = new Set([
  'token', 'token_id', 'reward', 'response_length', 'truncated', 'logprob', 'old_logprob', 'ref_logprob', 'value', 'entropy',
]);

/** Values of every term that has a field, keyed by term key. With `inputsFrom`, input columns the
 * primary payload lacks are read from that (stored) step; results never are. */
export function bindTermValues(
  terms: { key: string; field: string | null }[],
  step: StepPayload | null,
  selection: TokenSelection | null,
  inputsFrom: StepPayload | null = null,
): Map<string, BoundValue> {
  const bound = new Map<string, BoundValue>();
  if (!step || !selection) return bound;
  for (const term of terms) {
    if (!term.field) continue;
    let value = lookupField(step, selection, term.field);
    if (value.source === 'missing' && inputsFrom && INPUT_FIELDS.has(term.field)) {
      value = lookupField(inputsFrom, selection, term.field);
    }
    bound.set(term.key, value);
  }
  return bound;
}

/** Display formatting only: four significant digits, plain notation where it reads well. */
export function formatStoredValue(value: StoredValue | undefined): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'string') return value;
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value) && Math.abs(value) < 1e6) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude < 1e-3 || magnitude >= 1e5)) return value.toExponential(3);
  return Number(value.toPrecision(4)).toString();
}

/** The selected token's own string, when the step stores one. */
export function selectedTokenString(step: StepPayload | null, selection: TokenSelection | null): string | null {
  if (!step || !selection) return null;
  const bound = lookupField(step, selection, 'token');
  return typeof bound.value === 'string' ? bound.value : null;
}
