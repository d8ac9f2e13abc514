import { describe, expect, it } from 'vitest';
import { styleOfSlot } from '../../lib/run-styles';
import { linearTooltip, type TooltipRun } from './linear-tooltip';

const metrics = (reward: number[]) => ({ step: [1, 2, 3], columns: { reward_mean: reward, kl_mean: [0.1, 0.2, 0.3] }, downsampled: false, total: 3 });

describe('linear chart tooltip', () => {
  const six: TooltipRun[] = ['grpo', 'dapo', 'dr_grpo', 'gspo', 'ppo', 'reinforce'].map((id, slot) => ({
    id, label: id, style: styleOfSlot(slot), metrics: metrics([slot / 10, 0.5, 0.75]),
  }));

  it('lists every run for the hovered panel\u2019s metric, each with its line key', () => {
    const content = linearTooltip(six, ['reward_mean', 'kl_mean'], 1, 'reward_mean');
    expect(content.title).toBe('step 1 · reward_mean');
    expect(content.rows!.map((r) => r.label)).toEqual(['grpo', 'dapo', 'dr_grpo', 'gspo', 'ppo', 'reinforce']);
    expect(content.rows![1]).toEqual({ label: 'dapo', value: '0.1', key: { colour: styleOfSlot(1).colour, dash: styleOfSlot(1).dash } });
  });

  it('falls back to the first metric outside the panels, and shows all metrics of a single run', () => {
    expect(linearTooltip(six, ['kl_mean', 'reward_mean'], 2, null).title).toBe('step 2 · kl_mean');
    const one = linearTooltip(six.slice(0, 1), ['reward_mean', 'kl_mean'], 3, 'kl_mean');
    expect(one.rows).toEqual([{ label: 'reward_mean', value: '0.75' }, { label: 'kl_mean', value: '0.3' }]);
  });

  it('names the logged step it shows when the hovered one was not logged, and a dash without data', () => {
    const sparse = [{ ...six[0], metrics: { step: [1, 5], columns: { reward_mean: [0.2, 0.4] }, downsampled: true, total: 5 } }, { ...six[1], metrics: null }];
    const content = linearTooltip(sparse, ['reward_mean'], 4, 'reward_mean');
    expect(content.rows!.map((r) => r.value)).toEqual(['0.4 (step 5)', '—']);
  });
});
