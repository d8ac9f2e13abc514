// Step Inspector filters. Token filters return, per flat token, whether it stays at full
// strength (the others fade); the response filter hides whole responses.
import type { StepPayload } from '../../lib/types';
import { numericTokenColumn, type ResponseSlice } from './step-slices';

export type TokenFilter = 'none' | 'clipped' | 'top-entropy';

/** Share of the step's tokens that "top entropy" keeps (the forking tokens). */
export const TOP_ENTROPY_SHARE = 0.05;

/** Least server-computed `entropy_rank` (rank quantile over the step, §3) a top-entropy token has. */
export const TOP_ENTROPY_MIN_RANK = 1 - TOP_ENTROPY_SHARE;

/** Per-token emphasis for a filter, or null for "no filter" / a column the step lacks. */
export function tokenEmphasis(step: StepPayload, filter: TokenFilter): boolean[] | null {
  if (filter === 'clipped') {
    const clipped = numericTokenColumn(step, 'clipped');
    const low = numericTokenColumn(step, 'clipped_low');
    const high = numericTokenColumn(step, 'clipped_high');
    const n = (clipped ?? low ?? high)?.length;
    if (n === undefined) return null;
    return Array.from({ length: n }, (_, i) => Boolean(clipped?.[i] || low?.[i] || high?.[i]));
  }
  if (filter === 'top-entropy') {
    // The server ranks entropies over the whole step; the browser only compares.
    const rank = numericTokenColumn(step, 'entropy_rank');
    if (!rank) return null;
    return rank.map((r) => r !== null && r >= TOP_ENTROPY_MIN_RANK);
  }
  return null;
}

/** How many tokens a filter keeps (shown next to the filter). */
export function countKept(emphasis: boolean[] | null): number | null {
  if (!emphasis) return null;
  let n = 0;
  for (const e of emphasis) if (e) n++;
  return n;
}

/** Responses left after the response filter. */
export function visibleResponses(slices: ResponseSlice[], onlyTruncated: boolean): ResponseSlice[] {
  return onlyTruncated ? slices.filter((s) => s.truncated) : slices;
}

/** A response's part of a flat per-token array. */
export function sliceOf<T>(flat: T[] | null, slice: ResponseSlice): T[] | null {
  return flat ? flat.slice(slice.start, slice.end) : null;
}
