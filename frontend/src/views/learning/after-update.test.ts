import { describe, expect, it } from 'vitest';
import { afterUpdate, laterUpdatesOfRollout, mostPushed } from './after-update';
import { tinyStep } from '../inspector/test-fixture';
import type { StepPayload } from '../../lib/types';

/** The same rollout two updates later, its responses in another order (another mini-batch split). */
function laterStep(): StepPayload {
  const step = tinyStep();
  return {
    ...step,
    step: 5,
    epoch: 1,
    responses: {
      response: [0, 1],
      prompt: [1, 0],
      group: [11, 10],
      prompt_text: ['<img src=x onerror=alert(1)>', '1+1='],
      response_text: ['x', '2'],
      reward: [0.5, 1],
      response_length: [3, 2],
      truncated: [true, false],
    },
    tokens: { offsets: [0, 3, 5], position: [0, 1, 2, 0, 1], token: ['<b>', ' x', '', '2', '\n'], logprob: [-0.2, -0.4, -0.1, -0.05, -0.9] },
  };
}

describe('laterUpdatesOfRollout', () => {
  it('lists the later updates of the same rollout only', () => {
    const steps = [1, 2, 3, 4, 5, 6].map((step) => ({ step, rollout: step <= 5 && step >= 3 ? 1 : 0, epoch: 0, minibatch: 0 }));
    expect(laterUpdatesOfRollout(steps, 3).map((s) => s.step)).toEqual([4, 5]);
    expect(laterUpdatesOfRollout(steps, 5)).toEqual([]);
  });
});

describe('afterUpdate', () => {
  it('reads the stored log-prob of the same response at the later update', () => {
    const result = afterUpdate(tinyStep(), 0, [0, 1], [laterStep()]);
    expect(result.afterStep).toBe(5);
    expect(result.updatesBetween).toBe(2);
    expect(result.tokens).toEqual([
      { position: 0, token: '2', before: 0, after: -0.05, push: 0.7 },
      { position: 1, token: '\n', before: -1, after: -0.9, push: 0.6 },
    ]);
  });
  it('says why when no later update holds the response', () => {
    const last = afterUpdate(tinyStep(), 1, [0], []);
    expect(last.afterStep).toBeNull();
    expect(last.reason).toContain('last update of its rollout');
    expect(last.tokens[0].before).toBe(-2);
    expect(last.tokens[0].after).toBeNull();
    expect(afterUpdate(tinyStep(), 1, [0], [laterStep()]).reason).toContain('no later update');
  });
});

describe('mostPushed', () => {
  it('picks the tokens pushed hardest up and down', () => {
    expect(mostPushed(tinyStep(), 2, 1)).toEqual([1, 2]);
  });
});
