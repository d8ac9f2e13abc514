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
  const url = analysisPath(runId, name, step, params);
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
    return (await response.json()) as AnalysisAnswer<R>;
  }
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
