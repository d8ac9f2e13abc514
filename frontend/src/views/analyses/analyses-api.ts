// Fetches of the analyses routes (/api/analyses, /api/runs/{id}/analyses/{name}); every number in
// an answer is computed by unipo.analyses on the server. Busy answers (503) are retried like the
// other routes' (lib/api.ts).
import { ApiError, BUSY_RETRIES, accessMessage, retryDelaySeconds } from '../../lib/api';

export interface AnalysisAnswer<R> {
  name: string;
  title: string;
  level: 'step' | 'run';
  paper: string;
  explanation: string;
  step: number | null;
  requires: string[];
  /** Required inputs this run does not store: result is null when any is missing. */
  missing: string[];
  /** Optional inputs it lacks (the analysis ran, less exactly). */
  optional_missing: string[];
  result: R | null;
}

export function analysisPath(runId: string, name: string, step: number | null = null, params: Record<string, string | number> = {}): string {
  const query = new URLSearchParams();
  if (step !== null) query.set('step', String(step));
  for (const [key, value] of Object.entries(params)) query.set(key, String(value));
  const qs = query.toString();
  return `/api/runs/${encodeURIComponent(runId)}/analyses/${encodeURIComponent(name)}${qs ? `?${qs}` : ''}`;
}

export async function getAnalysis<R>(
  runId: string,
  name: string,
  step: number | null = null,
  params: Record<string, string | number> = {},
  signal?: AbortSignal,
): Promise<AnalysisAnswer<R>> {
  return getJson<AnalysisAnswer<R>>(analysisPath(runId, name, step, params), signal);
}

/** GET a JSON answer of the analyses routes, retrying busy (503) answers; errors carry the server's message. */
export async function getJson<T>(url: string, signal?: AbortSignal): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    let response: Response;
    try {
      response = await fetch(url, { signal, headers: { Accept: 'application/json' } });
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      throw new ApiError(`cannot reach the server (${(err as Error).message})`, 0, url);
    }
    if (response.status === 503 && attempt < BUSY_RETRIES) {
      await new Promise((resolve) => setTimeout(resolve, retryDelaySeconds(response.headers.get('Retry-After'), attempt) * 1000));
      continue;
    }
    if (!response.ok) {
      let message = accessMessage(response.status) ?? `${response.status} ${response.statusText}`;
      try {
        const body = await response.json();
        if (body && typeof body.error === 'string' && accessMessage(response.status) === null) message = body.error;
      } catch {
        /* not JSON */
      }
      throw new ApiError(message, response.status, url);
    }
    return (await response.json()) as T;
  }
}

function analysisUrl(runId: string, tail: string): string {
  return `/api/runs/${encodeURIComponent(runId)}/analyses/${tail}`;
}

export interface ModeFit {
  mode: string;
  missing: string[];
  total_weight: (number | null)[];
  slope: number | null;
  correlation: number | null;
  log_slope: number | null;
}

/** GET /analyses/length_bias/modes: Σ weight per response under the stored and every aggregation mode. */
export interface LengthModes {
  step: number;
  algo: string;
  stored_mode: string | null;
  responses: number[];
  length: number[];
  modes: ModeFit[];
}

export function getLengthModes(runId: string, step: number, signal?: AbortSignal): Promise<LengthModes> {
  return getJson<LengthModes>(analysisUrl(runId, `length_bias/modes?step=${step}`), signal);
}

export interface CorrectionRow {
  label: string;
  loss: number | null;
  push_flips: number;
  abs_dg_mean: number;
  abs_dg_max: number;
  relative_dg: number | null;
  zeroed: number;
  is_weight: { min: number; mean: number; max: number } | null;
}

/** GET /analyses/mismatch/corrections: the step under no correction, TIS and MIS. */
export interface Corrections {
  step: number;
  algo: string;
  missing: string[];
  tokens: number | null;
  rows: CorrectionRow[];
}

export function getCorrections(runId: string, step: number, signal?: AbortSignal): Promise<Corrections> {
  return getJson<Corrections>(analysisUrl(runId, `mismatch/corrections?step=${step}`), signal);
}

export interface RunDrift {
  run: string;
  algorithm: string | null;
  loss_aggregation: string | null;
  step: number[];
  response_length_mean: number[];
  first: number | null;
  last: number | null;
  trend_per_100: number | null;
}

/** GET /analyses/length_over_run/folder: response-length drift of every run in the run's folder. */
export function getFolderDrift(runId: string, signal?: AbortSignal): Promise<{ folder: string; runs: RunDrift[] }> {
  return getJson(analysisUrl(runId, 'length_over_run/folder'), signal);
}

export interface DifficultyCell {
  advantage_scale: number | null;
  advantage_correct: number | null;
  advantage_wrong: number | null;
  push_share: number | null;
}

/** GET /analyses/difficulty/variants: the per-prompt table under each advantage variant (what-ifs). */
export interface DifficultyVariants {
  step: number;
  algo: string;
  labels: string[];
  prompts: { prompt: number; accuracy: number; bucket: string; by: Record<string, DifficultyCell | null> }[];
  missing: Record<string, string[]>;
  push_share_by_bucket: Record<string, { hard: number; medium: number; easy: number }>;
}

export async function getDifficultyVariants(runId: string, step: number, signal?: AbortSignal): Promise<DifficultyVariants> {
  const url = `/api/runs/${encodeURIComponent(runId)}/analyses/difficulty/variants?step=${step}`;
  const response = await fetch(url, { signal, headers: { Accept: 'application/json' } });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(body && typeof body.error === 'string' ? body.error : `${response.status} ${response.statusText}`, response.status, url);
  return body as DifficultyVariants;
}
