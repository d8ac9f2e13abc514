import { describe, expect, it } from 'vitest';
import type { AlgorithmInfo } from '../../lib/types';
import { advantageLabel, advantageLevel } from './advantage-level';

function algorithm(name: string, estimator: string, tokenLevel: boolean): AlgorithmInfo {
  return {
    name,
    summary: '',
    hparams: { advantage_estimator: estimator },
    formula: { notation: 'unipo/1', cards: [] },
    token_level_advantages: tokenLevel,
    uses_reference: false,
    uses_values: tokenLevel,
  };
}

describe('advantage level', () => {
  it('follows the server\u2019s token_level_advantages flag', () => {
    expect(advantageLevel(algorithm('ppo', 'gae', true))).toEqual({ kind: 'token', estimator: 'gae' });
    expect(advantageLevel(algorithm('grpo', 'group_norm', false))).toEqual({ kind: 'response' });
    expect(advantageLevel(null)).toEqual({ kind: 'unknown' });
  });
  it('labels the first token\u2019s value honestly when tokens differ', () => {
    const gae = advantageLabel({ kind: 'token', estimator: 'gae' });
    expect(gae.prefix).toBe('A₀');
    expect(gae.title).toContain('first token');
    expect(gae.note).toContain('gae estimator gives every token its own advantage');
    expect(advantageLabel({ kind: 'unknown' }).prefix).toBe('A₀');
    expect(advantageLabel({ kind: 'response' })).toMatchObject({ prefix: 'A', note: null });
  });
});
