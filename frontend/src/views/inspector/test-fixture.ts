// A tiny hand-written step payload in the §3 shape, for unit tests of the inspector modules.
import type { StepPayload } from '../../lib/types';

export function tinyStep(): StepPayload {
  return {
    step: 3,
    rollout: 1,
    epoch: 0,
    minibatch: 0,
    metrics: { loss: 0.5 },
    responses: {
      response: [0, 1, 2],
      prompt: [0, 0, 1],
      group: [10, 10, 11],
      prompt_text: ['1+1=', '1+1=', '<img src=x onerror=alert(1)>'],
      response_text: ['2', '3', 'x'],
      reward: [1, 0, 0.5],
      response_length: [2, 1, 3],
      truncated: [false, false, true],
    },
    tokens: {
      offsets: [0, 2, 3, 6],
      position: [0, 1, 0, 0, 1, 2],
      token_id: [5, 6, 7, 8, 9, 10],
      token: ['2', '\n', '3', '<b>', ' x', ''],
      logprob: [0, -1, -2, null, -0.5, -0.1],
      advantage: [0.7, 0.7, -0.7, 0, 0, 0],
      token_objective: [0.7, 0.6, -0.8, 0, 0.01, -0.02],
      entropy: [0.1, 0.2, 3.0, 0.4, 0.5, 0.6],
      // Server-computed rank quantile of entropy over the step (§3): rank / (count − 1).
      entropy_rank: [0, 0.2, 1, 0.4, 0.6, 0.8],
      clipped: [0, 1, 0, 0, 1, 0],
      clipped_low: [0, 0, 0, 0, 1, 0],
      clipped_high: [0, 1, 0, 0, 0, 0],
      ratio: [1, 1.3, 0.9, 1, 0.7, 1],
    },
  };
}
