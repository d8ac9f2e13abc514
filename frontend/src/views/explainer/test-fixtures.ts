// Small hand-written payloads shared by the explainer / comparison / learning unit tests.
import type { AlgorithmInfo, Formula, StepPayload } from '../../lib/types';

/** Two prompt groups; responses 0,1 in group 0 and response 2 in group 1. */
export function makeStep(): StepPayload {
  return {
    step: 3,
    rollout: 1,
    epoch: 0,
    minibatch: 0,
    metrics: { loss: -0.0125, grad_norm: 0.8, lr: 1e-5 },
    responses: {
      prompt: [0, 0, 1],
      group: [10, 10, 11],
      prompt_text: ['2+2=', '2+2=', '3+5='],
      response_text: ['4', '5!', '8'],
      reward: [1, 0, 1],
      response_length: [1, 2, 1],
      truncated: [false, false, false],
    },
    tokens: {
      offsets: [0, 1, 3, 4],
      token: ['4', '5', '!', '8'],
      ratio: [1.1, 0.7, 1.3, 1.0],
      advantage: [0.7, -0.7, -0.7, 0],
      min_branch: [0, 1, 0, 0],
      clipped_low: [0, 1, 0, 0],
      clipped_high: [0, 0, 0, 0],
      surrogate: [0.77, -0.56, -0.91, 0],
      kl_penalty: [0.01, 0.02, 0.0, 0.0],
      entropy_bonus: [0, 0, 0, 0],
      token_objective: [0.76, -0.58, -0.91, 0],
      selected: [1, 1, 1, 1],
      weight: [1 / 3, 1 / 6, 1 / 6, 1 / 3],
    },
    // As the server computes it (step_checks.py): residual = objective − (surrogate − kl + bonus).
    checks: {
      objective_residual: [0, 0, 0, 0],
      objective_max_abs_residual: 0,
      objective_ok: true,
      objective_mismatches: { count: 0, indices: [] },
      objective_tolerance: { rtol: 4.8e-7, precision: 'float32', rule: '|residual| <= rtol * (...)' },
      loss_from_terms: -0.0125,
      loss_logged: -0.0125,
      loss_logged_metric: 'loss',
      loss_ok: true,
      loss_tolerance: { rtol: 1e-5, precision: 'float32', rule: '...' },
      missing: { objective: [], loss: [] },
    },
  };
}

/** makeStep() as the server sends an edited run: token 1 (response 1, position 0) does not add up. */
export function makeTamperedStep(): StepPayload {
  const step = makeStep();
  (step.tokens.token_objective as number[])[1] = 0.5;
  step.checks = {
    ...step.checks!,
    objective_residual: [0, 1.06, 0, 0],
    objective_max_abs_residual: 1.06,
    objective_ok: false,
    objective_mismatches: { count: 1, indices: [1] },
    loss_from_terms: -0.2,
    loss_ok: false,
  };
  return step;
}

export function makeFormula(kind: 'grpo' | 'dr_grpo'): Formula {
  const aggregation =
    kind === 'grpo'
      ? {
          id: 'aggregation',
          variant: 'seq-mean-token-mean',
          title: 'Step-level objective',
          latex: 'J=\\frac{1}{N}\\sum_i \\htmlClass{t-inv_len}{\\frac{1}{L_i}}\\sum_t \\htmlClass{t-token_objective}{o_{i,t}}',
          explanation: 'Mean over responses of the mean over tokens.',
          terms: [
            { key: 'inv_len', latex: '\\frac{1}{L_i}', field: null, card: 'aggregation', description: 'one over length' },
            { key: 'token_objective', latex: 'o_{i,t}', field: 'token_objective', card: 'token_objective', description: 'token objective' },
          ],
        }
      : {
          id: 'aggregation',
          variant: 'seq-mean-token-sum-norm',
          title: 'Step-level objective',
          latex: 'J=\\frac{1}{N L_{max}}\\sum_i \\sum_t \\htmlClass{t-token_objective}{o_{i,t}}',
          explanation: 'Sum over tokens divided by a constant.',
          terms: [
            { key: 'token_objective', latex: 'o_{i,t}', field: 'token_objective', card: 'token_objective', description: 'token objective' },
          ],
        };
  const advantageTerms = [
    { key: 'reward', latex: 'R_i', field: 'reward', card: null, description: 'reward' },
    { key: 'group_mean', latex: '\\bar R', field: null, card: null, description: 'group mean' },
  ];
  if (kind === 'grpo') advantageTerms.push({ key: 'group_std', latex: '\\sigma', field: null, card: null, description: 'group std' });
  return {
    notation: 'unipo/1',
    cards: [
      aggregation,
      {
        id: 'token_objective',
        variant: 'clip',
        title: 'Per-token objective',
        latex: 'o=\\min(\\htmlClass{t-ratio}{r}\\htmlClass{t-advantage}{A}, \\mathrm{clip}(r)A)',
        explanation: 'PPO clip.',
        terms: [
          { key: 'ratio', latex: 'r', field: 'ratio', card: 'ratio', description: 'ratio' },
          { key: 'advantage', latex: 'A', field: 'advantage', card: 'advantage', description: 'advantage' },
        ],
      },
      {
        id: 'ratio',
        variant: 'token',
        title: 'Importance ratio',
        latex: 'r=\\exp(\\ell-\\ell_{old})',
        explanation: 'token ratio',
        terms: [],
      },
      {
        id: 'advantage',
        variant: kind === 'grpo' ? 'group-zscore' : 'group-mean',
        title: 'Advantage',
        latex: kind === 'grpo' ? 'A=(R-\\bar R)/\\sigma' : 'A=R-\\bar R',
        explanation: 'group baseline',
        terms: advantageTerms,
      },
      ...(kind === 'grpo'
        ? [{ id: 'kl', variant: 'k3-in-loss', title: 'KL', latex: '\\beta k_3', explanation: 'kl', terms: [] }]
        : []),
    ],
  };
}

export function makeAlgorithm(kind: 'grpo' | 'dr_grpo'): AlgorithmInfo {
  return {
    name: kind,
    summary: kind,
    hparams: {},
    formula: makeFormula(kind),
    token_level_advantages: false,
    uses_reference: kind === 'grpo',
    uses_values: false,
  };
}
