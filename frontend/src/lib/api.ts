// Typed wrappers for every route of docs/contracts.md §3. The browser only fetches and displays;
// every number comes from the server.
import type {
  AlgorithmInfo,
  Json,
  MetricsPayload,
  RunDetail,
  ResponseOrderQuery,
  ResponsePage,
  RunSummary,
  StepChecks,
  StepPayload,
  StepSummary,
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

/** fetch with the busy (503) retries; throws ApiError for an error answer or a network failure. */
async function fetchOk(path: string, accept: string, signal?: AbortSignal): Promise<Response> {
  const url = apiBase + path;
  let response: Response;
  for (let attempt = 0; ; attempt++) {
    try {
      response = await fetch(url, { signal, headers: { Accept: accept } });
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
  return response;
}

async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  return (await (await fetchOk(path, 'application/json', signal)).json()) as T;
}

/** The Arrow IPC media type of token pages (contracts §3 "Paged steps"). */
export const ARROW_STREAM = 'application/vnd.apache.arrow.stream';

async function getBytes(path: string, signal?: AbortSignal): Promise<Uint8Array> {
  return new Uint8Array(await (await fetchOk(path, ARROW_STREAM, signal)).arrayBuffer());
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

/** Status of the whole-step route for a step too large to send whole: use the paged routes. */
export const STEP_TOO_LARGE = 413;

/** A step's summary over the whole step, computed by the server (first thing a large step loads). */
export function getStepSummary(runId: string, step: number, stats: string[] = [], signal?: AbortSignal): Promise<StepSummary> {
  const query = stats.length ? `?stats=${encodeURIComponent(stats.join(','))}` : '';
  return getJson(`/api/runs/${seg(runId)}/steps/${step}/summary${query}`, signal);
}

/** The §3 checks of a large step over the whole step (results only), computed by the server. */
export function getStepChecks(runId: string, step: number, signal?: AbortSignal): Promise<StepChecks> {
  return getJson(`/api/runs/${seg(runId)}/steps/${step}/checks`, signal);
}

/** Where a page of the server-sorted/filtered response order is asked for. */
export function responsePagePath(runId: string, step: number, query: ResponseOrderQuery, offset: number, limit: number): string {
  const params = new URLSearchParams({ sort: query.sort, desc: String(query.desc), offset: String(offset), limit: String(limit) });
  for (const [key, value] of Object.entries(query.min ?? {})) if (Number.isFinite(value)) params.set(`min_${key}`, String(value));
  for (const [key, value] of Object.entries(query.max ?? {})) if (Number.isFinite(value)) params.set(`max_${key}`, String(value));
  if (query.truncated !== undefined && query.truncated !== null) params.set('truncated', String(query.truncated));
  return `/api/runs/${seg(runId)}/steps/${step}/responses?${params.toString()}`;
}

export function getResponsePage(
  runId: string, step: number, query: ResponseOrderQuery, offset: number, limit: number, signal?: AbortSignal,
): Promise<ResponsePage> {
  return getJson(responsePagePath(runId, step, query, offset, limit), signal);
}

export function tokenPagePath(runId: string, step: number, responses: number[], columns: string[] | null): string {
  const params = new URLSearchParams({ responses: responses.join(',') });
  if (columns) params.set('columns', columns.join(','));
  return `/api/runs/${seg(runId)}/steps/${step}/tokens?${params.toString()}`;
}

/** Token columns of some responses, as the server's Arrow IPC stream (decode with lib/arrow). */
export function getTokenPage(runId: string, step: number, responses: number[], columns: string[] | null, signal?: AbortSignal): Promise<Uint8Array> {
  return getBytes(tokenPagePath(runId, step, responses, columns), signal);
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
