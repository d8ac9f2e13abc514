// Paged Step Inspector logic: which pages of the server's response order and which responses'
// token pages the visible part of the list needs, and the caches that hold them. Every number is
// the server's; nothing is sorted, filtered or summed here.
import type { ResponseRows } from '../../lib/types';
import type { ResponseSlice } from './step-slices';

/** Rows of the response order asked for at once. */
export const ROWS_PER_PAGE = 50;
/** Responses whose token pages are kept (the list re-asks for the others when they scroll back). */
export const TOKEN_CACHE_RESPONSES = 400;

/** Page numbers holding list items [start, end) that are not loaded yet. */
export function missingPages(start: number, end: number, loaded: (page: number) => boolean, perPage = ROWS_PER_PAGE): number[] {
  const out: number[] = [];
  if (end <= start) return out;
  for (let page = Math.floor(start / perPage); page <= Math.floor((end - 1) / perPage); page++) {
    if (!loaded(page)) out.push(page);
  }
  return out;
}

/** One list item: the server's row for the response at that place of the order. */
export interface PagedRow {
  slice: ResponseSlice;
  promptText: string;
  clipCount: number | null;
  objectiveAbs: number | null;
  gradAbs: number | null;
  weightSum: number | null;
  tokenCount: number;
}

function num(value: number | null | undefined): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** The row at offset `j` of a page, as a ResponseSlice over that response's own token page. */
export function pagedRow(rows: ResponseRows, j: number): PagedRow {
  const count = rows.token_count[j] ?? 0;
  return {
    slice: {
      index: rows.response[j],
      row: j,
      prompt: num(rows.prompt[j]) ?? 0,
      group: num(rows.group[j]),
      reward: num(rows.reward[j]),
      advantage: num(rows.advantage[j]),
      length: num(rows.length[j]) ?? count,
      truncated: rows.truncated[j] === true,
      start: 0,
      end: count,
    },
    promptText: rows.prompt_text[j] ?? '',
    clipCount: num(rows.clip_count[j]),
    objectiveAbs: num(rows.objective_abs[j]),
    gradAbs: num(rows.grad_coef_abs_sum[j]),
    weightSum: num(rows.weight_sum[j]),
    tokenCount: count,
  };
}

/** Pages of the order, by page number; `rowAt(i)` is null until i's page has arrived. */
export class RowPages {
  private pages = new Map<number, ResponseRows>();
  constructor(readonly perPage = ROWS_PER_PAGE) {}

  has(page: number): boolean {
    return this.pages.has(page);
  }

  set(page: number, rows: ResponseRows): void {
    this.pages.set(page, rows);
  }

  rowAt(index: number): PagedRow | null {
    const rows = this.pages.get(Math.floor(index / this.perPage));
    const j = index % this.perPage;
    return rows && j < rows.response.length ? pagedRow(rows, j) : null;
  }
}

/** A small least-recently-used map (token pages of responses scrolled past are dropped). */
export class LruMap<K, V> {
  private items = new Map<K, V>();
  constructor(readonly capacity: number) {}

  get(key: K): V | undefined {
    const value = this.items.get(key);
    if (value !== undefined) {
      this.items.delete(key);
      this.items.set(key, value);
    }
    return value;
  }

  has(key: K): boolean {
    return this.items.has(key);
  }

  set(key: K, value: V): void {
    this.items.delete(key);
    this.items.set(key, value);
    while (this.items.size > this.capacity) this.items.delete(this.items.keys().next().value as K);
  }

  get size(): number {
    return this.items.size;
  }
}

/** Responses among `wanted` whose tokens are neither cached nor already on their way. */
export function responsesToFetch(wanted: number[], cached: (id: number) => boolean, pending: Set<number>): number[] {
  return [...new Set(wanted)].filter((id) => !cached(id) && !pending.has(id));
}
