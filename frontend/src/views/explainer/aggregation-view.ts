// The aggregation card's picture of length bias: for each response, its length and the stored
// aggregation weight its tokens received. Under a per-response mean short responses' tokens weigh
// more; under a token mean or Dr. GRPO's constant every token weighs the same. Lookups only.
import type { StepPayload, TokenSelection } from '../../lib/types';
import { lookupField, responseCount, responseLength } from './term-values';

export interface ResponseWeight {
  response: number;
  length: number;
  /** Stored weight of the response's first token that carries one (null: none stored / all 0). */
  tokenWeight: number | null;
  selected: boolean;
}

/**
 * Responses to show: the selected token's group when there is a selection, else the first `limit`
 * responses of the step — always in response order, so the picture is stable as the user clicks.
 */
export function responseWeights(step: StepPayload, selection: TokenSelection | null, limit = 8): ResponseWeight[] {
  const groups = step.responses.group;
  const total = responseCount(step);
  let chosen: number[] = [];
  if (selection && Array.isArray(groups)) {
    const group = groups[selection.response];
    for (let i = 0; i < total && chosen.length < limit; i++) if (groups[i] === group) chosen.push(i);
  }
  if (chosen.length === 0) chosen = Array.from({ length: Math.min(limit, total) }, (_, i) => i);
  return chosen.map((response) => {
    const length = responseLength(step, response);
    let tokenWeight: number | null = null;
    for (let position = 0; position < length; position++) {
      const { value } = lookupField(step, { response, position }, 'weight');
      if (typeof value === 'number' && value !== 0) {
        tokenWeight = value;
        break;
      }
    }
    return { response, length, tokenWeight, selected: selection?.response === response };
  });
}

/** Bar lengths as a share of the largest weight shown (drawing only, not a value). */
export function barShares(rows: ResponseWeight[]): number[] {
  const max = Math.max(0, ...rows.map((r) => r.tokenWeight ?? 0));
  return rows.map((r) => (max > 0 && r.tokenWeight ? r.tokenWeight / max : 0));
}
