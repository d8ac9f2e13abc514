import { describe, expect, it } from 'vitest';
import { branchState, groupContext, tokenChain } from './token-context';
import { makeStep } from './test-fixtures';

describe('groupContext', () => {
  it('lists the rewards of the selected response\'s group', () => {
    expect(groupContext(makeStep(), { response: 1, position: 0 })).toEqual({
      group: 10,
      members: [
        { response: 0, reward: 1, selected: false },
        { response: 1, reward: 0, selected: true },
      ],
    });
    expect(groupContext(makeStep(), { response: 2, position: 0 })!.members).toHaveLength(1);
  });
});

describe('tokenChain', () => {
  it('reads stored columns for the neighbouring tokens of the response', () => {
    const rows = tokenChain(makeStep(), { response: 1, position: 1 }, ['advantage', 'value'], 3);
    expect(rows.map((r) => [r.position, r.token, r.values.advantage, r.values.value, r.selected])).toEqual([
      [0, '5', -0.7, null, false],
      [1, '!', -0.7, null, true],
    ]);
    expect(tokenChain(makeStep(), { response: 1, position: 9 }, ['value'])).toEqual([]);
  });
});

describe('branchState', () => {
  it('reports which branch of min() won from the stored flags', () => {
    expect(branchState(makeStep(), { response: 1, position: 0 })).toEqual({ winner: 'clipped', clippedLow: true, clippedHigh: false });
    expect(branchState(makeStep(), { response: 0, position: 0 }).winner).toBe('unclipped');
    const step = makeStep();
    delete (step.tokens as Record<string, unknown>).min_branch;
    expect(branchState(step, { response: 0, position: 0 }).winner).toBeNull();
  });
});
