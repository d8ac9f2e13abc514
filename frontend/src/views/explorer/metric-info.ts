// Plain-language definitions of the metrics the engine logs, for the metric chips. A metric the
// app does not know (imported runs) is still shown, with a generic sentence.

const DEFINITIONS: Record<string, string> = {
  reward_mean: 'Average reward of the responses used in this update.',
  reward_std: 'Spread (standard deviation) of the rewards in this update.',
  accuracy: 'Share of responses in this update that the task verifier judged correct.',
  rollout_reward_mean: 'Average reward over the whole rollout batch this update was cut from.',
  rollout_accuracy: 'Share of correct responses over the whole rollout batch.',
  response_length_mean: 'Average number of completion tokens per response.',
  truncated_fraction: 'Share of responses cut off at the length limit before finishing.',
  entropy_mean: 'Average token entropy of the policy over the tokens the loss used: how unsure the model is about its next token.',
  loss: 'The scalar the optimizer minimised in this update (policy loss plus any value loss).',
  policy_loss: 'Minus the step-level objective J: aggregation of the per-token objectives.',
  value_loss: 'Loss of the critic (value head) that estimates returns, for GAE advantages.',
  grad_norm: 'Size of the gradient before clipping: spikes show updates driven by a few tokens.',
  lr: 'Learning rate in force for this update.',
  update_seconds: 'Wall-clock seconds spent on this optimizer update.',
  tokens_per_second: 'Training throughput: completion tokens processed per second.',
  kl_mean: 'Average per-token KL estimate between the policy and the reference model.',
  clip_fraction_region: 'Share of tokens whose importance ratio was clipped on either side (their gradient is cut).',
  dual_clip_fraction: 'Share of tokens with Â < 0 held by the dual-clip cap δ.',
  selected_fraction: 'Share of tokens that carry the policy gradient after token selection.',
  token_objective_mean: 'Average per-token objective o over the tokens the loss used.',
  advantage_mean: 'Average advantage over the tokens of this update.',
  advantage_std: 'Spread of the advantages over the tokens of this update.',
  ratio_min: 'Smallest importance ratio in this update.',
  ratio_max: 'Largest importance ratio in this update.',
  push_abs_sum: 'Σ|g| over the update: the total push the loss put on the tokens\' log-probabilities.',
  zero_std_group_fraction: 'Share of prompt groups whose rewards were all equal (zero advantage for every member).',
  clip_fraction_low: 'Share of tokens clipped below 1 − ε (negative advantages).',
  clip_fraction_high: 'Share of tokens clipped above 1 + ε (positive advantages).',
  ratio_mean: 'Average importance ratio π/π_old: 1 means the policy has not moved yet.',
  rollout: 'Index of the rollout (batch of generated responses) this update used.',
  epoch: 'Pass over the rollout batch this update belongs to.',
  minibatch: 'Mini-batch index within the epoch.',
};

/**
 * A metric's definition: the run's own (an imported run's header may carry
 * `metric_definitions: {name: text}`, from the log it came from), else UNIPO's, else a generic
 * sentence naming where it came from.
 */
export function metricDefinition(name: string, own?: Record<string, unknown> | null): string {
  const given = own?.[name];
  if (typeof given === 'string' && given.trim()) return given.trim();
  return DEFINITIONS[name] ?? 'Logged by the run for every update (no definition stored with it).';
}

/** Whether UNIPO or the run defines this metric (false: only the generic sentence). */
export function hasDefinition(name: string, own?: Record<string, unknown> | null): boolean {
  return Boolean(DEFINITIONS[name]) || (typeof own?.[name] === 'string' && Boolean((own[name] as string).trim()));
}

/** Columns that describe the schedule rather than training progress: not offered as rings. */
const SCHEDULE_COLUMNS = new Set(['step', 'rollout', 'epoch', 'minibatch']);

/** Preferred first rings, in order, when the user has not chosen. */
const PREFERRED = ['reward_mean', 'loss', 'entropy_mean', 'kl_mean', 'accuracy', 'response_length_mean', 'grad_norm', 'clip_fraction_region'];

/** Metric columns worth plotting: not schedule columns, at least one finite value. */
export function plottableMetrics(columns: Record<string, (number | null)[]>): string[] {
  return Object.keys(columns)
    .filter((name) => !SCHEDULE_COLUMNS.has(name))
    .filter((name) => columns[name].some((v) => typeof v === 'number' && Number.isFinite(v)))
    .sort();
}

/** The user's choice (kept where available, at most `limit`), else the preferred defaults. */
export function chooseMetrics(available: string[], requested: string[], limit = 4): string[] {
  const present = new Set(available);
  const kept = requested.filter((m) => present.has(m)).slice(0, limit);
  if (kept.length) return kept;
  const defaults = PREFERRED.filter((m) => present.has(m)).slice(0, Math.min(3, limit));
  return defaults.length ? defaults : available.slice(0, Math.min(3, limit));
}

/** A metric value as shown in chips and tooltips: enough digits to tell neighbours apart. */
export function formatValue(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 1e5 || abs < 1e-4) return value.toExponential(3);
  if (Number.isInteger(value)) return String(value);
  return value.toPrecision(4).replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '');
}
