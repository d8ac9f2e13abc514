// What the advantage shown beside each response is. The step stores advantage as a token column;
// the response row shows the value of its first token. For a response-level estimator (GRPO's
// group z-score, RLOO, REINFORCE, ...) every token carries the same number, the response's
// advantage. For a token-level one (PPO's GAE, REINFORCE++) each token has its own, so the row's
// number is only the first token's and must say so; the browser never averages them.
import type { AlgorithmInfo } from '../../lib/types';

export type AdvantageLevel =
  | { kind: 'response' }
  | { kind: 'token'; estimator: string }
  /** The run's algorithm is not known (yet): the first token's value, labelled as such. */
  | { kind: 'unknown' };

/** The server says whether the spec's advantages are per token (AlgorithmSpec.token_level_advantages). */
export function advantageLevel(algorithm: AlgorithmInfo | null | undefined): AdvantageLevel {
  if (!algorithm) return { kind: 'unknown' };
  if (!algorithm.token_level_advantages) return { kind: 'response' };
  const estimator = algorithm.hparams?.advantage_estimator;
  return { kind: 'token', estimator: typeof estimator === 'string' && estimator ? estimator : algorithm.name };
}

export interface AdvantageLabel {
  /** Prefix before the value in the response row ("A" or "A₀"). */
  prefix: string;
  /** Hover text of the row's value. */
  title: string;
  /** One sentence for the inspector, or null when the row's number is the response's advantage. */
  note: string | null;
}

export function advantageLabel(level: AdvantageLevel): AdvantageLabel {
  if (level.kind === 'response') {
    return { prefix: 'A', title: 'Advantage of this response (every token of it carries the same value)', note: null };
  }
  const who = level.kind === 'token' ? `The ${level.estimator} estimator gives` : 'This algorithm may give';
  return {
    prefix: 'A₀',
    title: 'Advantage of the first token (position 0) only. Hover a token, or colour by advantage, for the others.',
    note: `${who} every token its own advantage: A₀ beside each response is its first token’s. Hover a token or colour by advantage to see the rest.`,
  };
}
