// Shapes of the server's JSON API (docs/contracts.md §3). The browser only displays these values.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface RunHeader {
  format: string;
  name: string;
  status: 'running' | 'finished' | 'failed' | string;
  algorithm: { name: string; hparams: Record<string, Json>; [key: string]: Json };
  task: { name: string; [key: string]: Json };
  model: { name: string; [key: string]: Json };
  seed: number;
  config: Record<string, Json>;
  [key: string]: Json;
}

export interface RunSummary {
  id: string;
  header: RunHeader;
  steps: number;
  last_step: number | null;
  live: boolean;
}

export interface StepIndexEntry {
  step: number;
  rollout: number;
  epoch: number;
  minibatch: number;
}

export interface RunDetail {
  id: string;
  header: RunHeader;
  steps: StepIndexEntry[];
  live: boolean;
}

export interface MetricsPayload {
  step: number[];
  columns: Record<string, (number | null)[]>;
  downsampled: boolean;
  total: number;
}

/** Flat columnar step: `responses` has one entry per response, `tokens` one per completion token. */
export interface StepPayload {
  step: number;
  rollout: number;
  epoch: number;
  minibatch: number;
  metrics: Record<string, number | null>;
  responses: Record<string, (number | string | boolean | null)[]>;
  tokens: { offsets: number[] } & Record<string, (number | string | null)[] | number[]>;
  missing?: string[];
  /** Invariant checks computed by the server on read (docs/contracts.md §3 "Checks"). */
  checks?: StepChecks;
}

/** `{count, indices}`: flat token indices of the payload (the server caps the list, never the count). */
export interface IndexList {
  count: number;
  indices: number[];
}

export interface CheckTolerance {
  rtol: number;
  precision: string;
  rule: string;
}

/** One part of the token objective as the algorithm spec composes it: o = Σ sign·part. */
export interface CompositionPart {
  /** The stored token column holding the part (e.g. "surrogate", "kl_penalty"). */
  term: string;
  /** Its sign in the sum (+1 or −1; another factor is shown as given). */
  sign: number;
}

/**
 * The server's comparison of stored numbers with each other: per token
 * `token_objective − Σ sign·part` over the spec's `composition` (e.g. surrogate − kl_penalty +
 * entropy_bonus), per step `−Σ weight·token_objective` against the logged policy loss. null where
 * a check could not run (`missing` says why).
 */
export interface StepChecks {
  /** The parts of token_objective as the run's algorithm spec defines them (older servers: absent). */
  composition?: CompositionPart[] | null;
  objective_residual: (number | null)[] | null;
  objective_max_abs_residual: number | null;
  objective_ok: boolean | null;
  objective_mismatches: IndexList | null;
  objective_tolerance: CheckTolerance | null;
  loss_from_terms: number | null;
  loss_logged: number | null;
  loss_logged_metric: string | null;
  loss_ok: boolean | null;
  loss_tolerance: CheckTolerance | null;
  missing: { objective: string[]; loss: string[] };
  /** Every formula card's equations evaluated by the server on this step's stored columns. */
  relations?: CardRelation[] | null;
}

/** One equation of a card checked on stored values (AlgorithmSpec.relations, server-side). */
export interface CardRelation {
  card: string;
  name: string;
  status: 'holds' | 'fails' | 'unchecked';
  checked: number;
  max_abs_residual: number | null;
  worst: number | null;
  reason: string;
}

export interface FormulaTerm {
  key: string;
  latex: string;
  field: string | null;
  card: string | null;
  description: string;
}

export interface FormulaCard {
  id: string;
  variant: string;
  title: string;
  latex: string;
  explanation: string;
  terms: FormulaTerm[];
}

export interface Formula {
  notation: string;
  cards: FormulaCard[];
}

export interface AlgorithmInfo {
  name: string;
  summary: string;
  hparams: Record<string, Json>;
  formula: Formula;
  /** The advantage estimator gives every token its own value ([N, T]), e.g. GAE. */
  token_level_advantages: boolean;
  uses_reference: boolean;
  uses_values: boolean;
}

/** A selected token: response index within the step and position within the response. */
export interface TokenSelection {
  response: number;
  position: number;
}

/** Quantiles (keys "0", "0.01", … "1"), histogram and counts of one column over the whole step. */
export interface ColumnStats {
  count: number;
  nulls?: number;
  min?: number | null;
  max?: number | null;
  mean?: number | null;
  quantiles?: Record<string, number> | null;
  histogram?: { edges: number[]; counts: number[]; below: number; above: number } | null;
  /** Columns with a fixed range (entropy_rank: [0, 1]). */
  fixed_domain?: [number, number];
  /** Quantiles and histogram merged from bounded samples stored at write time (count, min, max, mean exact). */
  approximate?: boolean;
}

/** GET /steps/{n}/summary: a large step's first answer (docs/contracts.md §3 "Paged steps"). */
export interface StepSummary {
  step: number;
  rollout: number | null;
  epoch: number | null;
  minibatch: number | null;
  metrics: Record<string, number | null>;
  paged: true;
  response_count: number;
  prompt_count: number;
  token_count: number;
  truncated_count: number;
  token_columns: string[];
  /** Token columns whose stats the summary can carry (ask with `?stats=`). */
  stat_columns: string[];
  sort_keys: string[];
  /** Per-response keys, entropy, entropy_rank and the token columns asked for. */
  stats: Record<string, ColumnStats>;
}

/** Sort and filters of the response order; the server applies them over the whole step. */
export interface ResponseOrderQuery {
  sort: string;
  desc: boolean;
  min?: Record<string, number>;
  max?: Record<string, number>;
  truncated?: boolean | null;
}

/** Per-response rows computed by the server (GET /steps/{n}/responses). */
export interface ResponseRows {
  response: number[];
  prompt: (number | null)[];
  group: (number | null)[];
  reward: (number | null)[];
  advantage: (number | null)[];
  length: (number | null)[];
  token_count: number[];
  truncated: boolean[];
  weight_sum: (number | null)[];
  grad_coef_abs_sum: (number | null)[];
  clip_count: (number | null)[];
  clip_low_count: (number | null)[];
  clip_high_count: (number | null)[];
  objective_abs: (number | null)[];
  prompt_text: (string | null)[];
}

export interface ResponsePage {
  sort: string;
  desc: boolean;
  total: number;
  offset: number;
  limit: number;
  rows: ResponseRows;
}
