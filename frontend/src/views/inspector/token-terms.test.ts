import { describe, expect, it } from 'vitest';
import { tinyStep } from './test-fixture';
import { termColumns, termLabel, tokenTooltip } from './token-terms';

function withG() {
  const step = tinyStep();
  return { ...step, tokens: { ...step.tokens, grad_coef: [-0.7, -0.6, 0.8, 0, -0.01, 0.02] } };
}

describe('token terms with the push g', () => {
  it('lists g first, before the objective', () => {
    expect(termColumns(withG()).slice(0, 3)).toEqual(['grad_coef', 'token_objective', 'advantage']);
    expect(termColumns(tinyStep())).not.toContain('grad_coef');
  });

  it('labels g as the push and highlights it when it colours the tokens', () => {
    expect(termLabel('grad_coef')).toBe('g (push)');
    expect(termLabel('token_objective')).toBe('token_objective');
    const rows = tokenTooltip(withG(), 0, 2, 'grad_coef').rows!;
    expect(rows[0]).toEqual({ label: 'g (push)', value: '0.8', strong: true });
    expect(rows[1]).toMatchObject({ label: 'token_objective', strong: false });
  });
});
