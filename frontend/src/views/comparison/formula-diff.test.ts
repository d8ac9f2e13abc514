import { describe, expect, it } from 'vitest';
import { cardStatusLabel, diffFormulas, diffTerms, differingCardIds, highlightedKeys } from './formula-diff';
import { makeFormula } from '../explainer/test-fixtures';

describe('diffFormulas (GRPO vs Dr. GRPO)', () => {
  const diff = diffFormulas(makeFormula('grpo'), makeFormula('dr_grpo'));
  const card = (id: string) => diff.cards.find((c) => c.id === id)!;

  it('marks cards shared, differing, or only on one side', () => {
    expect(card('aggregation').status).toBe('variant-differs');
    expect(card('advantage').status).toBe('variant-differs');
    expect(card('token_objective').status).toBe('shared');
    expect(card('ratio').status).toBe('shared');
    expect(card('kl').status).toBe('only-a');
    expect(diff.identical).toBe(false);
  });

  it('diffs terms by key: the std term and the 1/L_i weight exist only in GRPO', () => {
    const advantage = card('advantage');
    expect(advantage.terms.map((t) => [t.key, t.status])).toEqual([
      ['reward', 'same'],
      ['group_mean', 'same'],
      ['group_std', 'only-a'],
    ]);
    expect(highlightedKeys(card('aggregation'), 'a').added).toEqual(['inv_len']);
    expect(highlightedKeys(card('aggregation'), 'b').added).toEqual([]);
    expect([...differingCardIds(diff)].sort()).toEqual(['advantage', 'aggregation', 'kl']);
  });

  it('lists B-only cards after A\'s, and B-only terms', () => {
    const reverse = diffFormulas(makeFormula('dr_grpo'), makeFormula('grpo'));
    expect(reverse.cards.at(-1)).toMatchObject({ id: 'kl', status: 'only-b' });
    expect(reverse.cards.find((c) => c.id === 'advantage')!.terms.at(-1)).toMatchObject({ key: 'group_std', status: 'only-b' });
  });

  it('finds a formula identical to itself', () => {
    expect(diffFormulas(makeFormula('grpo'), makeFormula('grpo')).identical).toBe(true);
  });
});

describe('diffTerms', () => {
  it('reports a term whose latex changed', () => {
    const t = { key: 'w', latex: '1/L_i', field: 'weight', card: null, description: '' };
    expect(diffTerms([t], [{ ...t, latex: '1/L_{max}' }])[0].status).toBe('changed');
  });
});

describe('cardStatusLabel', () => {
  it('names the side', () => {
    expect(cardStatusLabel('only-b', 'grpo', 'dr_grpo')).toBe('only in dr_grpo');
  });
});
