// Reading the server's what-if answer for display. The server recomputes the step under another
// algorithm and summarises the change (step loss, push flips — tokens whose g changes sign —, newly
// clipped tokens, per-response weights); this module only reshapes those server values for the panel.
import type { IndexList, StepPayload, TokenSelection } from '../../lib/types';
import type { Category } from '../../lib/colour-scale';
import { formatStoredValue, lookupField, responseCount, tokenCount, type BoundValue } from '../explainer/term-values';

export type { IndexList };

/** Per-token differences the server sends with a what-if (what-if − stored, null where not stored). */
export const OBJECTIVE_DELTA = 'token_objective_delta';
export const GRAD_COEF_DELTA = 'grad_coef_delta';

/** The server's difference column for a painted column ("grad_coef" → "grad_coef_delta"). */
export function deltaColumnOf(column: string): string {
  return `${column}_delta`;
}

/** Said instead of a push-flip count when the server could not compare push directions. */
export const NO_STORED_G = 'the stored step has no g: push direction cannot be compared';

export interface WhatIfSummary {
  loss: { stored: number | null; whatif: number | null };
  /** Tokens whose g changes sign (pushed the other way); absent/null when the stored step has no g. */
  push_flips?: IndexList | null;
  newly_clipped: IndexList | null;
  response_weight: { stored: (number | null)[] | null; whatif: (number | null)[] | null };
}

export interface WhatIfPayload extends StepPayload {
  missing?: string[];
  notes?: string[];
  summary?: WhatIfSummary;
  algorithm?: { name: string; summary?: string | null };
}

/** Per-token change code from the server's index lists: 0 none, 1 push flip, 2 newly clipped, 3 both. */
export const CHANGE_NONE = 0;
export const CHANGE_FLIP = 1;
export const CHANGE_CLIPPED = 2;
export const CHANGE_BOTH = 3;

export const CHANGE_CATEGORIES: Category[] = [
  { value: CHANGE_NONE, label: 'same push direction, same clipping', colour: '#f4f4f4' },
  { value: CHANGE_FLIP, label: 'pushed the other way (g changes sign)', colour: '#805ad5' },
  { value: CHANGE_CLIPPED, label: 'newly clipped', colour: '#dd6b20' },
  { value: CHANGE_BOTH, label: 'pushed the other way and newly clipped', colour: '#2d3748' },
];

export function changeCodes(payload: WhatIfPayload, tokens: number): number[] {
  const codes = new Array<number>(tokens).fill(CHANGE_NONE);
  const mark = (list: IndexList | null | undefined, bit: number) => {
    for (const index of list?.indices ?? []) if (index >= 0 && index < tokens) codes[index] |= bit;
  };
  mark(payload.summary?.push_flips, CHANGE_FLIP);
  mark(payload.summary?.newly_clipped, CHANGE_CLIPPED);
  return codes;
}

/** True when the server listed fewer indices than it counted (it caps the lists, never the counts). */
export function indicesTruncated(list: IndexList | null | undefined): boolean {
  return !!list && list.indices.length < list.count;
}

/** A per-token column as numbers (null where absent), sliced to one response. */
export function responseValues(step: StepPayload, column: string, response: number): (number | null)[] {
  const values = step.tokens[column] as (number | null)[] | undefined;
  const start = step.tokens.offsets[response];
  const end = step.tokens.offsets[response + 1] ?? tokenCount(step);
  if (!values || start === undefined) return new Array(Math.max(0, (end ?? 0) - (start ?? 0))).fill(null);
  return values.slice(start, end).map((v) => (typeof v === 'number' ? v : null));
}

export function responseTokens(step: StepPayload, response: number): string[] {
  const tokens = step.tokens.token as (string | null)[] | undefined;
  const start = step.tokens.offsets[response];
  const end = step.tokens.offsets[response + 1] ?? tokenCount(step);
  if (!tokens) return new Array(Math.max(0, end - start)).fill('?');
  return tokens.slice(start, end).map((t) => t ?? '');
}

export interface PromptGroup {
  prompt: number;
  promptText: string | null;
  responses: number[];
}

/** Prompt groups of the step, the selected token's group first, at most `limit` of them. */
export function groupsToShow(step: StepPayload, selection: TokenSelection | null, limit: number): { shown: PromptGroup[]; total: number } {
  const prompts = step.responses.prompt as (number | null)[] | undefined;
  const texts = step.responses.prompt_text as (string | null)[] | undefined;
  const byPrompt = new Map<number, PromptGroup>();
  for (let i = 0; i < responseCount(step); i++) {
    const prompt = prompts?.[i] ?? i;
    let group = byPrompt.get(prompt);
    if (!group) byPrompt.set(prompt, (group = { prompt, promptText: texts?.[i] ?? null, responses: [] }));
    group.responses.push(i);
  }
  const all = [...byPrompt.values()];
  const selectedPrompt = selection ? (prompts?.[selection.response] ?? selection.response) : null;
  all.sort((a, b) => Number(b.prompt === selectedPrompt) - Number(a.prompt === selectedPrompt));
  return { shown: all.slice(0, limit), total: all.length };
}

export interface WeightRow {
  response: number;
  stored: number | null;
  whatif: number | null;
  /** Σ what-if weight − Σ stored weight, as the server computed it (responses.weight_total_delta). */
  delta: number | null;
}

/** The server's per-response total weights, stored vs what-if, and their difference, for the responses shown. */
export function weightRows(summary: WhatIfSummary | undefined, responses: number[], payload?: WhatIfPayload | null): WeightRow[] {
  const stored = summary?.response_weight?.stored ?? null;
  const whatif = summary?.response_weight?.whatif ?? null;
  const delta = (payload?.responses.weight_total_delta ?? null) as (number | null)[] | null;
  return responses.map((response) => ({
    response,
    stored: stored?.[response] ?? null,
    whatif: whatif?.[response] ?? null,
    delta: typeof delta?.[response] === 'number' ? (delta[response] as number) : null,
  }));
}

/** True when the server sent the per-token difference column (older servers did not). */
export function hasDeltaColumn(payload: WhatIfPayload | null, column: string): boolean {
  return Array.isArray(payload?.tokens[column]);
}

/** True when the server sent the per-token objective difference. */
export function hasObjectiveDelta(payload: WhatIfPayload | null): boolean {
  return hasDeltaColumn(payload, OBJECTIVE_DELTA);
}

/** The push-flip count as the panel writes it, or why there is none. */
export function pushFlipsText(summary: WhatIfSummary, storedHasG: boolean): string {
  if (summary.push_flips) return String(summary.push_flips.count);
  return storedHasG ? 'unknown (the server sent no push comparison)' : NO_STORED_G;
}

/** Terms compared for the selected token, stored vs what-if: the push g first. */
export const COMPARED_FIELDS = ['grad_coef', 'token_objective', 'advantage', 'ratio', 'surrogate', 'kl_penalty', 'weight', 'clipped', 'selected'];

/** The server's per-token differences shown for the selected token, in this order. */
export const DELTA_FIELDS: { column: string; label: string }[] = [
  { column: GRAD_COEF_DELTA, label: 'g difference (what-if − stored)' },
  { column: OBJECTIVE_DELTA, label: 'objective difference (what-if − stored)' },
];

export interface ComparedRow {
  field: string;
  stored: BoundValue;
  whatif: BoundValue;
}

/** Stored vs what-if values of the compared terms at the selected token (terms neither side has are left out). */
export function comparedRows(step: StepPayload, payload: WhatIfPayload, selection: TokenSelection): ComparedRow[] {
  return COMPARED_FIELDS.map((field) => ({
    field,
    stored: lookupField(step, selection, field),
    whatif: lookupField(payload, selection, field),
  })).filter((r) => r.stored.source !== 'missing' || r.whatif.source !== 'missing');
}

export interface DeltaRow {
  column: string;
  label: string;
  value: BoundValue['value'];
}

/** The server's differences at the selected token, for the columns it sent. */
export function deltaRows(payload: WhatIfPayload, selection: TokenSelection): DeltaRow[] {
  return DELTA_FIELDS.filter(({ column }) => hasDeltaColumn(payload, column)).map(({ column, label }) => ({
    column,
    label,
    value: lookupField(payload, selection, column).value,
  }));
}

/** One plain sentence naming what the recomputation lacked, or null when nothing is missing. */
export function missingSentence(payload: WhatIfPayload, algorithmName: string): string | null {
  const missing = payload.missing ?? [];
  if (missing.length === 0) return null;
  const list = missing.length === 1 ? missing[0] : `${missing.slice(0, -1).join(', ')} and ${missing.at(-1)}`;
  const them = missing.length === 1 ? 'it' : 'them';
  return `${algorithmName} needs ${list}, which this run did not store: the values that depend on ${them} are not exact.`;
}

/** A server-computed difference with its sign always written (+0.1, −0.1): formatting only. */
export function formatSigned(value: number | null): string {
  const text = formatStoredValue(value);
  return value !== null && value > 0 ? `+${text}` : text.replace(/^-/, '−');
}
