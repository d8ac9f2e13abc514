import { describe, expect, it } from 'vitest';
import { barShares, responseWeights } from './aggregation-view';
import { makeStep } from './test-fixtures';

describe('responseWeights', () => {
  it('shows the selected group with each response\'s length and stored token weight', () => {
    const rows = responseWeights(makeStep(), { response: 1, position: 0 });
    expect(rows).toEqual([
      { response: 0, length: 1, tokenWeight: 1 / 3, selected: false },
      { response: 1, length: 2, tokenWeight: 1 / 6, selected: true },
    ]);
    expect(barShares(rows)).toEqual([1, 0.5]);
  });

  it('falls back to the first responses without a selection', () => {
    expect(responseWeights(makeStep(), null, 2).map((r) => r.response)).toEqual([0, 1]);
  });

  it('reports no weight for a response whose tokens all weigh 0', () => {
    const step = makeStep();
    step.tokens.weight = [0, 0, 0, 0];
    expect(responseWeights(step, null)[0].tokenWeight).toBeNull();
    expect(barShares(responseWeights(step, null))).toEqual([0, 0, 0]);
  });
});
