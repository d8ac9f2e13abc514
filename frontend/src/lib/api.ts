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

/** Busy answers (503, heavy work queued apart on the server) are retried this many times. */
export const BUSY_RETRIES = 4;

/** Seconds to wait before retrying a 503: the server's Retry-After, within [0.25, 10]. */
export function retryDelaySeconds(header: string | null, attempt: number): number {
  const given = header === null ? NaN : Number(header);
  const base = Number.isFinite(given) && given >= 0 ? given : 1;
  return Math.min(10, Math.max(0.25, base * (attempt + 1)));
}

/** What to tell the user for an answer the server refused before looking at the request. */
export function accessMessage(status: number): string | null {
  if (status === 401 || status === 403) {
    return 'this server needs its access token: open the URL `unipo serve` printed (it ends in ?token=…)';
  }
  return null;
}

function wait(seconds: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, seconds * 1000);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(new DOMException('aborted', 'AbortError'));
    }, { once: true });
  });
}

async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const url = apiBase + path;
  let response: Response;
  for (let attempt = 0; ; attempt++) {
    try {
      response = await fetch(url, { signal, headers: { Accept: 'application/json' } });
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      throw new ApiError(`cannot reach the server (${(err as Error).message})`, 0, url);
    }
    if (response.status !== 503 || attempt >= BUSY_RETRIES) break;
    await wait(retryDelaySeconds(response.headers.get('Retry-After'), attempt), signal);
  }
  if (!response.ok) {
    // The server answers {"error": "..."}; fall back to the status text for anything else.
    let message = accessMessage(response.status) ?? `${response.status} ${response.statusText}`;
    try {
      const body = await response.json();
      if (body && typeof body.error === 'string' && accessMessage(response.status) === null) message = body.error;
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
