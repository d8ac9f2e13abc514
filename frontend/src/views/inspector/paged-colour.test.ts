import { describe, expect, it } from 'vitest';
import type { StepSummary } from '../../lib/types';
import { pageColumns, pagedScale, responseAsStep, statsColumn, summarySources } from './paged-colour';
import { colourValues } from './colour-source';

function summary(): StepSummary {
  const q = (lo: number, hi: number) => ({ '0': lo * 2, '0.02': lo, '0.5': 0, '0.98': hi, '1': hi * 2 });
  return {
    step: 4, rollout: 1, epoch: 0, minibatch: 0, metrics: {}, paged: true, response_count: 2, prompt_count: 1,
    token_count: 5, truncated_count: 0, token_columns: ['position', 'token', 'grad_coef', 'ratio', 'logprob', 'kl'],
    sort_keys: ['response'],
    stats: { grad_coef: { count: 5, quantiles: q(-0.5, 0.25) }, ratio: { count: 5, quantiles: q(0.8, 1.1) },
             logprob: { count: 5, quantiles: q(-3, -0.1) }, kl: { count: 0, quantiles: null } },
    stat_columns: ['grad_coef', 'ratio', 'logprob', 'kl'],
  };
}

describe('pagedScale', () => {
  it('takes its range from the server quantiles of the whole step', () => {
    // Diverging around 0: ± max(|p2|, |p98|) of the step, whatever page is on screen.
    expect(pagedScale('grad_coef', summary()).domain).toEqual([-0.5, 0.5]);
    const ratio = pagedScale('ratio', summary()).domain;
    expect(ratio[0]).toBeCloseTo(0.8);
    expect(ratio[1]).toBeCloseTo(1.2);
    expect(pagedScale('probability', summary()).domain).toEqual([0, 1]);
  });
});

describe('page columns and sources', () => {
  it('asks only for columns the step has, and offers only sources with values', () => {
    expect(pageColumns(summary(), 'kl')).toEqual(['token', 'grad_coef', 'ratio', 'logprob', 'kl']);
    // kl is stored but all null (its stats count no value); entropy is not stored at all.
    expect(summarySources(summary(), ['grad_coef', 'kl', 'probability', 'entropy'])).toEqual(['grad_coef', 'probability']);
    expect(statsColumn('probability')).toBeNull();
    expect(statsColumn('contribution')).toBe('grad_contribution');
  });

  it('presents a token page in the step shape for the shared colour code', () => {
    const step = responseAsStep(summary(), { response: 7, position: [0, 1], token: ['a', 'b'], columns: { logprob: [0, null] } });
    expect(step.tokens.offsets).toEqual([0, 2]);
    expect(colourValues(step, 'probability')).toEqual([1, null]);
  });
});
