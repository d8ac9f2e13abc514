// The last beat shows what the update did to the selected tokens: their stored log-probability at
// this update (before its optimizer step) and at the next stored update of the same rollout that
// holds the same response (PPO-style epochs and mini-batches reuse a rollout), where the policy
// has taken this step. Lookups only: both numbers are stored values; nothing is recomputed here.
import type { StepIndexEntry, StepPayload } from '../../lib/types';
import { responseSlices } from '../inspector/step-slices';

/** Later updates of the same rollout, in order (where the same responses can be found again). */
export function laterUpdatesOfRollout(steps: readonly StepIndexEntry[], current: number): StepIndexEntry[] {
  const me = steps.find((s) => s.step === current);
  if (!me || me.rollout === null || me.rollout === undefined) return [];
  return steps.filter((s) => s.rollout === me.rollout && s.step > current).sort((a, b) => a.step - b.step);
}

/** Row of the response in `later` with the same prompt and text as row `response` of `step`, or null. */
export function sameResponse(step: StepPayload, response: number, later: StepPayload): number | null {
  const promptOf = (s: StepPayload, i: number) => s.responses.prompt_text?.[i] ?? null;
  const textOf = (s: StepPayload, i: number) => s.responses.response_text?.[i] ?? null;
  const prompt = promptOf(step, response);
  const text = textOf(step, response);
  if (text === null || prompt === null) return null;
  const n = later.responses.response_text?.length ?? 0;
  for (let i = 0; i < n; i++) if (textOf(later, i) === text && promptOf(later, i) === prompt) return i;
  return null;
}

export interface TokenChange {
  position: number;
  token: string;
  /** Stored log-prob at this update (the policy before its optimizer step). */
  before: number | null;
  /** Stored log-prob of the same token at `afterStep`, or null. */
  after: number | null;
  /** The stored push g (its sign says which way this update meant to move the token). */
  push: number | null;
}

export interface AfterUpdate {
  /** null: no later update of this rollout holds the response (then `reason` says why). */
  afterStep: number | null;
  /** Updates between this one and afterStep, this one included (1: only this update acted). */
  updatesBetween: number;
  tokens: TokenChange[];
  reason: string | null;
}

function tokenColumn(step: StepPayload, name: string): (number | string | null)[] | null {
  const column = step.tokens[name];
  return Array.isArray(column) ? (column as (number | string | null)[]) : null;
}

/**
 * Before/after log-probs of `positions` of `response`, from the first of `later` (already
 * fetched, in step order) that holds the same response. `updatesBetween` counts the optimizer
 * steps in between, so the page can say that the change is not this update's alone.
 */
export function afterUpdate(step: StepPayload, response: number, positions: number[], later: StepPayload[]): AfterUpdate {
  const slices = responseSlices(step);
  const slice = slices.find((s) => s.index === response);
  const strings = tokenColumn(step, 'token');
  const logprob = tokenColumn(step, 'logprob');
  const push = tokenColumn(step, 'grad_coef') ?? tokenColumn(step, 'token_objective');
  const base = (p: number): TokenChange => {
    const flat = slice ? slice.start + p : -1;
    return {
      position: p,
      token: String(strings?.[flat] ?? ''),
      before: typeof logprob?.[flat] === 'number' ? (logprob[flat] as number) : null,
      after: null,
      push: typeof push?.[flat] === 'number' ? (push[flat] as number) : null,
    };
  };
  if (!slice) return { afterStep: null, updatesBetween: 0, tokens: [], reason: 'the response is not in this step' };
  for (const candidate of later) {
    const match = sameResponse(step, slice.row, candidate);
    if (match === null) continue;
    const other = responseSlices(candidate).find((s) => s.row === match);
    const otherLogprob = tokenColumn(candidate, 'logprob');
    if (!other || !otherLogprob) continue;
    return {
      afterStep: candidate.step,
      updatesBetween: candidate.step - step.step,
      tokens: positions.map((p) => {
        const value = otherLogprob[other.start + p];
        return { ...base(p), after: typeof value === 'number' ? value : null };
      }),
      reason: null,
    };
  }
  return {
    afterStep: null,
    updatesBetween: 0,
    tokens: positions.map(base),
    reason: later.length
      ? 'no later update of this rollout holds this response'
      : 'this is the last update of its rollout: the next log-probabilities of these tokens were never computed (a new rollout samples new responses)',
  };
}

/** The tokens of a response most pushed up and down by this update (by stored |g|), for when no token is selected. */
export function mostPushed(step: StepPayload, response: number, count = 3): number[] {
  const slice = responseSlices(step).find((s) => s.index === response);
  const push = tokenColumn(step, 'grad_coef') ?? tokenColumn(step, 'token_objective');
  if (!slice || !push) return [];
  const positions = Array.from({ length: slice.end - slice.start }, (_, p) => p).filter((p) => typeof push[slice.start + p] === 'number');
  const value = (p: number) => push[slice.start + p] as number;
  const up = [...positions].sort((a, b) => value(b) - value(a)).slice(0, count).filter((p) => value(p) > 0);
  const down = [...positions].sort((a, b) => value(a) - value(b)).slice(0, count).filter((p) => value(p) < 0);
  return [...new Set([...up, ...down])].sort((a, b) => a - b);
}
