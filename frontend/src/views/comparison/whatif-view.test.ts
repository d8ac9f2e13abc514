import { describe, expect, it } from 'vitest';
import {
  CHANGE_BOTH,
  CHANGE_CLIPPED,
  CHANGE_FLIP,
  changeCodes,
  comparedRows,
  COMPARED_FIELDS,
  deltaColumnOf,
  deltaRows,
  groupsToShow,
  formatSigned,
  hasDeltaColumn,
  hasObjectiveDelta,
  NO_STORED_G,
  pushFlipsText,
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
      push_flips: { count: 2, indices: [1, 3] },
      newly_clipped: { count: 1, indices: [3] },
      response_weight: { stored: [0.3, 0.3, 0.4], whatif: [0.25, 0.5, 0.25] },
    },
  };
}

describe('what-if view', () => {
  it('turns the server\'s index lists into change codes', () => {
    expect(changeCodes(whatIf(), 4)).toEqual([0, CHANGE_FLIP, 0, CHANGE_BOTH]);
    const onlyClipped = whatIf();
    onlyClipped.summary!.push_flips = null;
    expect(changeCodes(onlyClipped, 4)).toEqual([0, 0, 0, CHANGE_CLIPPED]);
    expect(changeCodes({ ...makeStep() }, 2)).toEqual([0, 0]);
  });

  it('marks "pushed the other way" from push_flips only, never from objective sign flips', () => {
    const p = whatIf();
    delete p.summary!.push_flips;
    // An older server's objective sign flips say nothing about the push direction.
    (p.summary as unknown as Record<string, unknown>).sign_flips = { count: 1, indices: [0] };
    expect(changeCodes(p, 4)).toEqual([0, 0, 0, CHANGE_CLIPPED]);
  });

  it('writes the push-flip count, or why it cannot be compared', () => {
    expect(pushFlipsText(whatIf().summary!, true)).toBe('2');
    const p = whatIf();
    delete p.summary!.push_flips;
    expect(pushFlipsText(p.summary!, false)).toBe(NO_STORED_G);
    expect(NO_STORED_G).toBe('the stored step has no g: push direction cannot be compared');
    p.summary!.push_flips = null;
    expect(pushFlipsText(p.summary!, true)).toContain('unknown');
  });

  it('compares g first for the selected token, and the server\'s g and objective differences', () => {
    expect(COMPARED_FIELDS[0]).toBe('grad_coef');
    const stored = makeStep();
    (stored.tokens as Record<string, unknown>).grad_coef = [0.3, -0.2, -0.2, 0];
    const p = whatIf();
    (p.tokens as Record<string, unknown>).grad_coef = [0.1, 0.4, -0.2, 0];
    (p.tokens as Record<string, unknown>).grad_coef_delta = [-0.2, 0.6, 0, 0];
    const at = { response: 1, position: 0 };
    const rows = comparedRows(stored, p, at);
    expect(rows[0]).toEqual({ field: 'grad_coef', stored: { source: 'token', value: -0.2 }, whatif: { source: 'token', value: 0.4 } });
    expect(rows.map((r) => r.field)).not.toContain('clipped'); // neither side stores it
    expect(deltaRows(p, at)).toEqual([{ column: 'grad_coef_delta', label: 'g difference (what-if − stored)', value: 0.6 }]);
    (p.tokens as Record<string, unknown>).token_objective_delta = [0, 9, 0, 0];
    expect(deltaRows(p, at).map((r) => [r.column, r.value])).toEqual([['grad_coef_delta', 0.6], ['token_objective_delta', 9]]);
    expect(hasDeltaColumn(p, 'grad_coef_delta')).toBe(true);
    expect(hasDeltaColumn(null, 'grad_coef_delta')).toBe(false);
    expect(deltaColumnOf('grad_coef')).toBe('grad_coef_delta');
    expect(deltaColumnOf('token_objective')).toBe('token_objective_delta');
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
