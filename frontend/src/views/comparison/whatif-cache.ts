// One what-if request per (run, step, algorithm), shared by the explainer's comparison values and
// the what-if panel: the server recomputes a whole step, so asking twice would waste its time.
import { getWhatIf } from '../../lib/api';
import type { StepPayload } from '../../lib/types';

export type WhatIfFetcher = (runId: string, step: number, algo: string) => Promise<StepPayload>;

export function createWhatIfCache(fetcher: WhatIfFetcher, capacity = 6) {
  const entries = new Map<string, Promise<StepPayload>>();
  return {
    get(runId: string, step: number, algo: string): Promise<StepPayload> {
      const key = JSON.stringify([runId, step, algo]);
      const hit = entries.get(key);
      if (hit) {
        // Refresh recency: Map iteration order is insertion order.
        entries.delete(key);
        entries.set(key, hit);
        return hit;
      }
      const request = fetcher(runId, step, algo);
      // A failed request is not remembered: the next attempt asks again.
      request.catch(() => entries.delete(key));
      entries.set(key, request);
      while (entries.size > capacity) entries.delete(entries.keys().next().value as string);
      return request;
    },
    clear: () => entries.clear(),
  };
}

export const whatIfCache = createWhatIfCache((runId, step, algo) => getWhatIf(runId, step, algo));
