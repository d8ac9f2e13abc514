import { describe, expect, it } from 'vitest';
import type { ResponseRows } from '../../lib/types';
import { LruMap, RowPages, missingPages, pagedRow, responsesToFetch } from './paged-rows';

function rows(ids: number[]): ResponseRows {
  return {
    response: ids, prompt: ids.map((i) => Math.floor(i / 4)), group: ids.map(() => null), reward: ids.map((i) => i % 2),
    advantage: ids.map(() => null), length: ids.map(() => 3), token_count: ids.map(() => 3),
    truncated: ids.map((i) => i === 5), weight_sum: ids.map(() => 0.1), grad_coef_abs_sum: ids.map(() => 0.2),
    clip_count: ids.map(() => 1), clip_low_count: ids.map(() => 0), clip_high_count: ids.map(() => 1),
    objective_abs: ids.map(() => null), prompt_text: ids.map((i) => `p${i}`),
  };
}

describe('missingPages', () => {
  it('lists the unloaded pages that cover a visible range', () => {
    expect(missingPages(0, 0, () => false, 10)).toEqual([]);
    expect(missingPages(8, 31, () => false, 10)).toEqual([0, 1, 2, 3]);
    expect(missingPages(8, 31, (p) => p % 2 === 0, 10)).toEqual([1, 3]);
  });
});

describe('RowPages', () => {
  it('finds item i in page floor(i / perPage), in the server order', () => {
    const pages = new RowPages(3);
    pages.set(1, rows([9, 5, 7]));
    expect(pages.rowAt(0)).toBeNull();
    const row = pages.rowAt(4)!;
    expect(row.slice.index).toBe(5);
    expect(row.slice.truncated).toBe(true);
    expect(row.promptText).toBe('p5');
    expect(pages.rowAt(6)).toBeNull();
  });

  it('keeps a null advantage null and spans the response own token page', () => {
    const row = pagedRow(rows([2]), 0);
    expect(row.slice.advantage).toBeNull();
    expect([row.slice.start, row.slice.end]).toEqual([0, 3]);
    expect(row.objectiveAbs).toBeNull();
  });
});

describe('token caches', () => {
  it('drops the least recently used entry past capacity', () => {
    const lru = new LruMap<number, string>(2);
    lru.set(1, 'a');
    lru.set(2, 'b');
    lru.get(1);
    lru.set(3, 'c');
    expect([lru.has(1), lru.has(2), lru.has(3)]).toEqual([true, false, true]);
  });

  it('asks only for responses neither cached nor pending', () => {
    expect(responsesToFetch([1, 2, 2, 3, 4], (id) => id === 1, new Set([3]))).toEqual([2, 4]);
  });
});
