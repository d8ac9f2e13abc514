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
}

/** A selected token: response index within the step and position within the response. */
export interface TokenSelection {
  response: number;
  position: number;
}
