import { describe, expect, it } from 'vitest';
import { barFractions, missingSentence, percent, variantAlgo, variantRow } from './analysis-view';
import type { WhatIfPayload } from '../comparison/whatif-view';

describe('missingSentence', () => {
  it('names missing columns and metrics', () => {
    expect(missingSentence(['grad_coef', 'metrics.grad_norm'])).toBe(
      'Not available for this run: it does not store the column grad_coef, the metric grad_norm.',
    );
    expect(missingSentence([], ['grad_contribution'])).toBe('Less exact here: this run does not store the column grad_contribution.');
    expect(missingSentence([], [])).toBeNull();
  });
});

describe('variants', () => {
  it('use the run algorithm unless they name one', () => {
    expect(variantAlgo({ label: 'x', algo: null, hparams: {} }, 'dapo')).toBe('dapo');
    expect(variantAlgo({ label: 'x', algo: 'grpo', hparams: {} }, 'dapo')).toBe('grpo');
  });
  it('read the server summary as it is', () => {
    const payload = { summary: { loss: { stored: 0.5, whatif: 0.25 }, push_flips: { count: 3, indices: [1, 2, 3] }, newly_clipped: null, response_weight: { stored: [0.5, 0.5], whatif: [0.2, 0.8] } } } as unknown as WhatIfPayload;
    expect(variantRow('token-mean', payload)).toEqual({ label: 'token-mean', lossStored: 0.5, lossWhatIf: 0.25, pushFlips: 3, weights: [0.2, 0.8] });
  });
});

describe('formatting', () => {
  it('percent and bar fractions', () => {
    expect(percent(0.1234)).toBe('12.3%');
    expect(percent(null)).toBe('—');
    expect(barFractions([1, 4, 2])).toEqual([0.25, 1, 0.5]);
    expect(barFractions([0, 0])).toEqual([0, 0]);
  });
});

describe('length drift and clip lines', () => {
  it('label a run by its algorithm and aggregation', async () => {
    const { driftLabel, signed, CLIP_CELLS } = await import('./analysis-view');
    expect(driftLabel({ run: 'dapo-demo', algorithm: 'dapo', loss_aggregation: 'token-mean' })).toBe('dapo · token-mean (dapo-demo)');
    expect(driftLabel({ run: 'imported', algorithm: null, loss_aggregation: null })).toBe('imported (imported)');
    expect(signed(1.254)).toBe('+1.25');
    expect(signed(-0.5, 1)).toBe('−0.5');
    expect(signed(null)).toBe('—');
    expect(CLIP_CELLS.map((c) => c.key)).toEqual(['pos_high', 'pos_low', 'neg_high', 'neg_low']);
  });
});
