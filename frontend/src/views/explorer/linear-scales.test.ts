import { describe, expect, it } from 'vitest';
import { isLossMetric, lossComparabilityNote, normalise, panelScaling } from './linear-scales';

const runs = [
  { id: 'reinforce', columns: { loss: [-2, 4.7, 1], reward_mean: [0.2, 0.5, 0.6] } },
  { id: 'grpo', columns: { loss: [-0.02, 0.01, 0.02], reward_mean: [0.3, 0.4, 0.7] } },
];

describe('panelScaling', () => {
  it('normalises a panel whose runs span ranges orders of magnitude apart', () => {
    const loss = panelScaling(runs, 'loss', 'auto');
    expect(loss.normalised).toBe(true);
    expect(loss.spread).toBeCloseTo(6.7 / 0.04);
    expect(loss.ranges.get('reinforce')).toEqual([-2, 4.7]);
  });
  it('keeps comparable ranges on one shared axis unless asked', () => {
    expect(panelScaling(runs, 'reward_mean', 'auto').normalised).toBe(false);
    expect(panelScaling(runs, 'reward_mean', 'normalised').normalised).toBe(true);
    expect(panelScaling(runs, 'loss', 'shared').normalised).toBe(false);
  });
  it('ignores missing and non-finite values', () => {
    const s = panelScaling([{ id: 'a', columns: { x: [null, NaN, 3, 1] } }, { id: 'b', columns: {} }], 'x', 'auto');
    expect(s.ranges.get('a')).toEqual([1, 3]);
    expect(s.ranges.has('b')).toBe(false);
    expect(s.normalised).toBe(false);
  });
});

describe('normalise', () => {
  it('maps a run range onto [0, 1]', () => {
    expect(normalise(4.7, [-2, 4.7])).toBe(1);
    expect(normalise(-2, [-2, 4.7])).toBe(0);
    expect(normalise(3, [3, 3])).toBe(0.5);
  });
});

describe('loss notes', () => {
  it('names each aggregation and its runs', () => {
    const note = lossComparabilityNote([
      { label: 'reinforce', aggregation: 'seq-mean-token-sum' },
      { label: 'grpo', aggregation: 'seq-mean-token-mean' },
      { label: 'gspo', aggregation: 'seq-mean-token-mean' },
    ]);
    expect(note).toContain('seq-mean-token-sum (reinforce)');
    expect(note).toContain('seq-mean-token-mean (grpo, gspo)');
  });
  it('says nothing when every run aggregates alike', () => {
    expect(lossComparabilityNote([{ label: 'a', aggregation: 'token-mean' }, { label: 'b', aggregation: 'token-mean' }])).toBeNull();
  });
  it('recognises loss metrics only', () => {
    expect(isLossMetric('loss')).toBe(true);
    expect(isLossMetric('policy_loss')).toBe(true);
    expect(isLossMetric('reward_mean')).toBe(false);
    expect(isLossMetric('glossary')).toBe(false);
  });
});
