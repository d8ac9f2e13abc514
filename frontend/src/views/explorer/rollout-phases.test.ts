import { describe, expect, it } from 'vitest';
import { describePhase, hasReusedRollouts, rolloutPhases } from './rollout-phases';

const entry = (step: number, rollout: number | null, epoch = 0, minibatch = 0) =>
  ({ step, rollout, epoch, minibatch }) as never;

describe('rolloutPhases', () => {
  it('groups consecutive updates of one rollout', () => {
    const phases = rolloutPhases([
      entry(1, 0, 0, 0), entry(2, 0, 0, 1), entry(3, 0, 1, 0), entry(4, 0, 1, 1),
      entry(5, 1, 0, 0), entry(6, 1, 0, 1),
    ]);
    expect(phases).toHaveLength(2);
    expect(phases[0]).toEqual({ rollout: 0, firstStep: 1, lastStep: 4, updates: 4, epochs: 2, minibatches: 2 });
    expect(phases[1].firstStep).toBe(5);
    expect(hasReusedRollouts(phases)).toBe(true);
  });
  it('skips steps without schedule and reports one-update rollouts', () => {
    const phases = rolloutPhases([entry(1, null), entry(2, 0), entry(3, 1)]);
    expect(phases.map((p) => p.updates)).toEqual([1, 1]);
    expect(hasReusedRollouts(phases)).toBe(false);
  });
  it('describes a phase in plain words', () => {
    expect(describePhase({ rollout: 3, firstStep: 7, lastStep: 9, updates: 3, epochs: 1, minibatches: 3 })).toBe(
      'Rollout 3 · steps 7–9 · 3 updates on the same responses (1 epoch × 3 mini-batches)',
    );
  });
});
