import { describe, expect, it } from 'vitest';
import { culpritLine, explainTarget, type AttributionResult, type AttributionToken } from './explain-spike';

const culprit: AttributionToken = {
  index: 17, response: 3, position: 5, token: '0', score: 9, share: 0.63, grad_coef: -2.1, ratio: 2.31,
  advantage: -1.62, clip: 'none', probability: 0.12,
};

function result(method: 'exact' | 'coefficient', top: AttributionToken | null): AttributionResult {
  return { method, response_method: 'exact', score_label: '', tokens: top ? [top] : [], responses: [], gradloc: null, culprit: top, grad_norm: 7.37 };
}

describe('explainTarget', () => {
  it('selects the culprit token and colours by contribution when it is exact', () => {
    expect(explainTarget(result('exact', culprit))).toEqual({ token: { response: 3, position: 5 }, colour: 'contribution', culprit });
  });
  it('falls back to the push when only g is stored', () => {
    expect(explainTarget(result('coefficient', culprit))?.colour).toBe('grad_coef');
  });
  it('has nothing to select without a culprit', () => {
    expect(explainTarget(result('exact', null))).toBeNull();
    expect(explainTarget(null)).toBeNull();
  });
});

describe('culpritLine', () => {
  it('names the token with its ratio, advantage, clip state and probability', () => {
    expect(culpritLine(culprit)).toBe('“0” (response 3, position 5) · 63% of the ranked total · ratio 2.31 · advantage -1.62 · not clipped · p 0.12');
    expect(culpritLine({ ...culprit, clip: 'high', share: 0.042 })).toContain('4.2% of the ranked total');
    expect(culpritLine({ ...culprit, clip: 'high' })).toContain('clipped high');
  });
});
