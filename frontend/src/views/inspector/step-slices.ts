// The columnar step payload (contracts §3) cut into what the Step Inspector shows: prompt groups,
// their responses, and each response's slice of the flat token columns. No value is computed
// here; values are picked out of the payload as the server sent them.
import type { StepPayload } from '../../lib/types';

export interface ResponseSlice {
  /** Index of the response in the step (the `response` column). */
  index: number;
  /** Position of this response in the payload's response arrays. */
  row: number;
  prompt: number;
  group: number | null;
  reward: number | null;
  advantage: number | null;
  length: number | null;
  truncated: boolean;
  /** Flat token range [start, end) in the `tokens` columns. */
  start: number;
  end: number;
}

export interface PromptGroup {
  prompt: number;
  promptText: string;
  responses: ResponseSlice[];
}

type Column = (number | string | boolean | null)[] | number[] | undefined;

function numberAt(column: Column, i: number): number | null {
  const v = column?.[i];
  return typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'boolean' ? Number(v) : null;
}

function responseCount(step: StepPayload): number {
  return Math.max(0, step.tokens.offsets.length - 1);
}

/** One slice per response, in payload order. */
export function responseSlices(step: StepPayload): ResponseSlice[] {
  const r = step.responses;
  const offsets = step.tokens.offsets;
  // Advantage is a token column; the response summary shows its first token's value: the
  // response's advantage when the estimator is response level, only the first token's when it is
  // token level (GAE, REINFORCE++: advantage-level.ts labels it so).
  const advantage = step.tokens.advantage as Column;
  const slices: ResponseSlice[] = [];
  for (let row = 0; row < responseCount(step); row++) {
    const start = offsets[row];
    const end = offsets[row + 1];
    const truncated = r.truncated?.[row];
    slices.push({
      index: numberAt(r.response, row) ?? row,
      row,
      prompt: numberAt(r.prompt, row) ?? 0,
      group: numberAt(r.group, row),
      reward: numberAt(r.reward, row),
      advantage: end > start ? numberAt(advantage, start) : null,
      length: numberAt(r.response_length, row) ?? end - start,
      truncated: truncated === true || truncated === 1,
      start,
      end,
    });
  }
  return slices;
}

/** Responses grouped by prompt, in order of first appearance. */
export function promptGroups(step: StepPayload, slices = responseSlices(step)): PromptGroup[] {
  const groups = new Map<number, PromptGroup>();
  const promptText = step.responses.prompt_text;
  for (const slice of slices) {
    let group = groups.get(slice.prompt);
    if (!group) {
      const text = promptText?.[slice.row];
      group = { prompt: slice.prompt, promptText: typeof text === 'string' ? text : '', responses: [] };
      groups.set(slice.prompt, group);
    }
    group.responses.push(slice);
  }
  return [...groups.values()];
}

/** Token strings of one response. */
export function responseTokens(step: StepPayload, slice: ResponseSlice): string[] {
  const column = step.tokens.token as (string | null)[] | undefined;
  const out: string[] = new Array(slice.end - slice.start);
  for (let i = slice.start; i < slice.end; i++) out[i - slice.start] = column?.[i] ?? '';
  return out;
}

/** A flat numeric token column (null where absent), or null when the step does not have it. */
export function numericTokenColumn(step: StepPayload, name: string): (number | null)[] | null {
  if (name === 'offsets') return null;
  const column = step.tokens[name] as Column;
  if (!column) return null;
  return Array.from(column, (v) => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'boolean' ? Number(v) : null));
}

/** Flat token index of (response row, position), or null when out of range. */
export function flatIndex(step: StepPayload, responseRow: number, position: number): number | null {
  const offsets = step.tokens.offsets;
  if (responseRow < 0 || responseRow >= offsets.length - 1) return null;
  const index = offsets[responseRow] + position;
  return position >= 0 && index < offsets[responseRow + 1] ? index : null;
}

/** Payload row of a response index (they coincide for a full step, not for a filtered payload). */
export function rowOfResponse(slices: ResponseSlice[], responseIndex: number): number | null {
  const found = slices.find((s) => s.index === responseIndex);
  return found ? found.row : null;
}

/** Cuts `count` items into pages of `size`: [start, end) of page `page` (clamped). */
export function pageRange(count: number, size: number, page: number): { start: number; end: number; pages: number; page: number } {
  const pages = Math.max(1, Math.ceil(count / size));
  const clamped = Math.min(Math.max(0, page), pages - 1);
  return { start: clamped * size, end: Math.min(count, (clamped + 1) * size), pages, page: clamped };
}
