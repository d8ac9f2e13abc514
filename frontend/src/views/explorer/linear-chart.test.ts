import { describe, expect, it } from 'vitest';
import { runsWithoutValues, type LinearRun } from './linear-chart';

describe('linear chart', () => {
  it('names the runs whose line is absent from a panel (no column, or only nulls)', () => {
    const runs: Pick<LinearRun, 'label' | 'columns'>[] = [
      { label: 'grpo', columns: { kl_mean: [0.1, null, 0.3] } },
      { label: 'dapo', columns: { kl_mean: [null, null, null] } },
      { label: 'gspo', columns: {} },
      { label: 'ppo', columns: { kl_mean: [null, 0] } },
    ];
    expect(runsWithoutValues(runs, 'kl_mean')).toEqual(['dapo', 'gspo']);
    expect(runsWithoutValues(runs, 'reward_mean')).toEqual(['grpo', 'dapo', 'gspo', 'ppo']);
  });
});
