// Typed wrappers for every route of docs/contracts.md §3. The browser only fetches and displays;
// every number comes from the server.
import type {
  AlgorithmInfo,
  Json,
  MetricsPayload,
  RunDetail,
  RunSummary,
  StepPayload,
} from './types';

/** Where the API lives; same origin in production (the server hosts the bundle). */
let apiBase = '';

export function setApiBase(base: string): void {
  apiBase = base.replace(/\/$/, '');
}

/** An error answered by the server ({"error": message}) or a network failure. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly url: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const url = apiBase + path;
  let response: Response;
  try {
    response = await fetch(url, { signal, headers: { Accept: 'application/json' } });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(`cannot reach the server (${(err as Error).message})`, 0, url);
  }
  if (!response.ok) {
    // The server answers {"error": "..."}; fall back to the status text for anything else.
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = await response.json();
      if (body && typeof body.error === 'string') message = body.error;
    } catch {
      /* not JSON: keep the status line */
    }
    throw new ApiError(message, response.status, url);
  }
  return (await response.json()) as T;
}

const seg = encodeURIComponent;

export function getRuns(signal?: AbortSignal): Promise<RunSummary[]> {
  return getJson('/api/runs', signal);
}

export function getRun(runId: string, signal?: AbortSignal): Promise<RunDetail> {
  return getJson(`/api/runs/${seg(runId)}`, signal);
}

export interface MetricsQuery {
  maxPoints?: number;
  start?: number;
  end?: number;
}

export function metricsPath(runId: string, query: MetricsQuery = {}): string {
  const params = new URLSearchParams();
  if (query.maxPoints !== undefined) params.set('max_points', String(query.maxPoints));
  if (query.start !== undefined) params.set('start', String(query.start));
  if (query.end !== undefined) params.set('end', String(query.end));
  const qs = params.toString();
  return `/api/runs/${seg(runId)}/metrics${qs ? `?${qs}` : ''}`;
}

export function getMetrics(runId: string, query: MetricsQuery = {}, signal?: AbortSignal): Promise<MetricsPayload> {
  return getJson(metricsPath(runId, query), signal);
}

export function getStep(runId: string, step: number, signal?: AbortSignal): Promise<StepPayload> {
  return getJson(`/api/runs/${seg(runId)}/steps/${step}`, signal);
}

export function getResponse(runId: string, step: number, response: number, signal?: AbortSignal): Promise<StepPayload> {
  return getJson(`/api/runs/${seg(runId)}/steps/${step}/responses/${response}`, signal);
}

export function getAlgorithms(signal?: AbortSignal): Promise<AlgorithmInfo[]> {
  return getJson('/api/algorithms', signal);
}

export function getAlgorithm(name: string, signal?: AbortSignal): Promise<AlgorithmInfo> {
  return getJson(`/api/algorithms/${seg(name)}`, signal);
}

/**
 * The algorithm a run was trained with: the server rebuilds the spec stored in the run header
 * (AlgorithmSpec.from_dict) and describes it, so the formula reflects the run's own
 * hyper-parameters (a β of 0 drops the KL term, say), not the preset's defaults.
 * Accepts the run itself or its id.
 */
export function getRunAlgorithm(run: RunDetail | string, signal?: AbortSignal): Promise<AlgorithmInfo> {
  const id = typeof run === 'string' ? run : run.id;
  return getJson(`/api/runs/${seg(id)}/algorithm`, signal);
}

export function whatIfPath(runId: string, step: number, algo: string, hparams: Record<string, Json> = {}): string {
  const params = new URLSearchParams({ algo });
  for (const [key, value] of Object.entries(hparams)) {
    if (value === null || value === undefined) continue;
    params.set(key, typeof value === 'object' ? JSON.stringify(value) : String(value));
  }
  return `/api/runs/${seg(runId)}/steps/${step}/whatif?${params.toString()}`;
}

/** The same logged rollouts re-scored by the server under another algorithm. */
export function getWhatIf(
  runId: string,
  step: number,
  algo: string,
  hparams: Record<string, Json> = {},
  signal?: AbortSignal,
): Promise<StepPayload> {
  return getJson(whatIfPath(runId, step, algo, hparams), signal);
}

export interface StepEvent {
  run: string;
  step: number;
}

/**
 * Calls onStep whenever the server announces a new step of a live run. Returns a function that
 * stops listening. EventSource reconnects by itself after a dropped connection.
 */
export function subscribeEvents(runId: string, onStep: (event: StepEvent) => void, onError?: () => void): () => void {
  if (typeof EventSource === 'undefined') return () => {};
  const source = new EventSource(`${apiBase}/api/runs/${seg(runId)}/events`);
  source.onmessage = (message) => {
    try {
      const event = JSON.parse(message.data) as StepEvent;
      if (typeof event.step === 'number') onStep(event);
    } catch {
      /* ignore keep-alive or malformed lines */
    }
  };
  if (onError) source.onerror = onError;
  return () => source.close();
}
