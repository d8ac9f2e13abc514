// "Explain this spike": where the attribution analysis (unipo.analyses.attribution) says the
// step's gradient came from, turned into a selection. Picks and formats; computes nothing.
import type { ColourSource } from '../../lib/selection';
import type { TokenSelection } from '../../lib/types';
import { formatValue } from '../explorer/metric-info';

export interface AttributionToken {
  index: number;
  response: number;
  position: number;
  token: string | null;
  score: number;
  share: number | null;
  grad_coef: number | null;
  ratio: number | null;
  advantage: number | null;
  clip: 'high' | 'low' | 'none';
  probability: number | null;
}

export interface AttributionResult {
  method: 'exact' | 'coefficient';
  response_method: string;
  score_label: string;
  tokens: AttributionToken[];
  responses: { response: number; score: number; share: number | null; tokens: number }[];
  gradloc: { response: number; position: number; grad_norm: number | null; share: number | null; probes: number | null; agrees_with_ranking: boolean } | null;
  culprit: AttributionToken | null;
  grad_norm: number | null;
}

export interface ExplainTarget {
  token: TokenSelection;
  /** Colour by the exact contribution when the step stores it, else by the push g. */
  colour: ColourSource;
  culprit: AttributionToken;
}

export function explainTarget(result: AttributionResult | null | undefined): ExplainTarget | null {
  const culprit = result?.culprit;
  if (!result || !culprit) return null;
  return {
    token: { response: culprit.response, position: culprit.position },
    colour: result.method === 'exact' ? 'contribution' : 'grad_coef',
    culprit,
  };
}

function percent(share: number | null): string {
  return share === null ? '—' : `${(share * 100).toFixed(share >= 0.1 ? 0 : 1)}%`;
}

/** One line naming the culprit and what explains it: ratio, advantage, clip state, probability. */
export function culpritLine(token: AttributionToken): string {
  const clip = token.clip === 'none' ? 'not clipped' : `clipped ${token.clip}`;
  return [
    `“${token.token ?? '?'}” (response ${token.response}, position ${token.position})`,
    `${percent(token.share)} of the ranked total`,
    `ratio ${formatValue(token.ratio)}`,
    `advantage ${formatValue(token.advantage)}`,
    clip,
    `p ${formatValue(token.probability)}`,
  ].join(' · ');
}
