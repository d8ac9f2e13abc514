// The explainer's visible consistency check: the stored token objective next to the stored terms
// it is made of. Every number shown is a stored one; the browser only compares them, at display
// precision, to tell the learner (and anyone importing a run) whether the log is self-consistent.
import type { StepPayload, TokenSelection } from '../../lib/types';
import { lookupField } from './term-values';

export const OBJECTIVE_PARTS = ['surrogate', 'kl_penalty', 'entropy_bonus'] as const;

export interface ObjectiveCheck {
  status: 'match' | 'mismatch' | 'not-selected' | 'incomplete';
  surrogate: number | null;
  kl_penalty: number | null;
  entropy_bonus: number | null;
  token_objective: number | null;
  /** Which stored columns are absent or null (status 'incomplete'). */
  missing: string[];
}

/**
 * Stored values are float32: compare with a tolerance relative to the largest magnitude involved,
 * so a value of 1e3 and a value of 1e-6 are both judged at roughly float32 display precision.
 */
export function agreesWithin(a: number, b: number, relative = 1e-4, absolute = 1e-6): boolean {
  const scale = Math.max(Math.abs(a), Math.abs(b), 1);
  return Math.abs(a - b) <= absolute + relative * scale;
}

export function checkTokenObjective(step: StepPayload, selection: TokenSelection): ObjectiveCheck {
  const read = (field: string): number | null => {
    const { value } = lookupField(step, selection, field);
    return typeof value === 'number' && Number.isFinite(value) ? value : null;
  };
  const result: ObjectiveCheck = {
    status: 'incomplete',
    surrogate: read('surrogate'),
    kl_penalty: read('kl_penalty'),
    entropy_bonus: read('entropy_bonus'),
    token_objective: read('token_objective'),
    missing: [],
  };
  for (const field of [...OBJECTIVE_PARTS, 'token_objective'] as const) {
    if (result[field] === null) result.missing.push(field);
  }
  const selected = lookupField(step, selection, 'selected').value;
  if (selected === 0 || selected === false) {
    // An unselected token is stored with objective 0 by contract: nothing to compose.
    result.status = 'not-selected';
    return result;
  }
  if (result.missing.length > 0) return result;
  const composed = result.surrogate! - result.kl_penalty! + result.entropy_bonus!;
  result.status = agreesWithin(composed, result.token_objective!) ? 'match' : 'mismatch';
  return result;
}
