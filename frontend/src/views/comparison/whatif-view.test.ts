import { describe, expect, it } from 'vitest';
import {
  CHANGE_BOTH,
  CHANGE_CLIPPED,
  CHANGE_FLIP,
  changeCodes,
  groupsToShow,
  formatSigned,
  hasObjectiveDelta,
  indicesTruncated,
  missingSentence,
  responseTokens,
  responseValues,
  weightRows,
  type WhatIfPayload,
} from './whatif-view';
import { makeStep } from '../explainer/test-fixtures';

function whatIf(): WhatIfPayload {
  return {
    ...makeStep(),
    missing: [],
    summary: {
      loss: { stored: 0.1, whatif: 0.2 },
      sign_flips: { count: 2, indices: [1, 3] },
      newly_clipped: { count: 1, indices: [3] },
      response_weight: { stored: [0.3, 0.3, 0.4], whatif: [0.25, 0.5, 0.25] },
    },
  };
}

describe('what-if view', () => {
  it('turns the server\'s index lists into change codes', () => {
    expect(changeCodes(whatIf(), 4)).toEqual([0, CHANGE_FLIP, 0, CHANGE_BOTH]);
    const onlyClipped = whatIf();
    onlyClipped.summary!.sign_flips = null;
    expect(changeCodes(onlyClipped, 4)).toEqual([0, 0, 0, CHANGE_CLIPPED]);
    expect(changeCodes({ ...makeStep() }, 2)).toEqual([0, 0]);
  });

  it('knows when the server capped an index list', () => {
    expect(indicesTruncated({ count: 9000, indices: [1, 2] })).toBe(true);
    expect(indicesTruncated({ count: 2, indices: [1, 2] })).toBe(false);
    expect(indicesTruncated(null)).toBe(false);
  });

  it('slices per-token columns by response', () => {
    expect(responseValues(makeStep(), 'token_objective', 1)).toEqual([-0.58, -0.91]);
    expect(responseValues(makeStep(), 'nothing', 1)).toEqual([null, null]);
    expect(responseTokens(makeStep(), 1)).toEqual(['5', '!']);
  });

  it('shows the selected group first and caps the count', () => {
    const { shown, total } = groupsToShow(makeStep(), { response: 2, position: 0 }, 1);
    expect(total).toBe(2);
    expect(shown).toEqual([{ prompt: 1, promptText: '3+5=', responses: [2] }]);
    expect(groupsToShow(makeStep(), null, 5).shown.map((g) => g.prompt)).toEqual([0, 1]);
  });

  it('reads per-response weights from the server summary', () => {
    expect(weightRows(whatIf().summary, [0, 2])).toEqual([
      { response: 0, stored: 0.3, whatif: 0.25, delta: null },
      { response: 2, stored: 0.4, whatif: 0.25, delta: null },
    ]);
    expect(weightRows(undefined, [0])).toEqual([{ response: 0, stored: null, whatif: null, delta: null }]);
  });

  it('reads differences from the server, never subtracting', () => {
    const p = whatIf();
    expect(hasObjectiveDelta(p)).toBe(false);
    // Deliberately not what-if − stored: the panel must show what the server sent.
    p.responses.weight_total_delta = [0.125, null, -7];
    (p.tokens as Record<string, unknown>).token_objective_delta = [0.5, null, 0, -1];
    expect(hasObjectiveDelta(p)).toBe(true);
    expect(weightRows(p.summary, [0, 1, 2], p).map((r) => r.delta)).toEqual([0.125, null, -7]);
    expect(responseValues(p, 'token_objective_delta', 1)).toEqual([null, 0]);
  });

  it('writes the sign of a difference', () => {
    expect(formatSigned(0.25)).toBe('+0.25');
    expect(formatSigned(-0.25)).toBe('−0.25');
    expect(formatSigned(0)).toBe('0');
    expect(formatSigned(null)).toBe('—');
  });

  it('says plainly which inputs are missing', () => {
    expect(missingSentence(whatIf(), 'ppo')).toBeNull();
    const p = whatIf();
    p.missing = ['ref_logprob', 'value'];
    expect(missingSentence(p, 'ppo')).toBe(
      'ppo needs ref_logprob and value, which this run did not store: the values that depend on them are not exact.',
    );
  });
});
