import { describe, expect, it } from 'vitest';
import { lttbIndices } from './lttb';

describe('lttbIndices', () => {
  const x = Array.from({ length: 1000 }, (_, i) => i);
  it('keeps everything under the threshold', () => {
    expect(lttbIndices([0, 1, 2], [1, 2, 3], 10)).toEqual([0, 1, 2]);
  });
  it('returns exactly threshold ascending indices including both ends', () => {
    const y = x.map((i) => Math.sin(i / 30));
    const kept = lttbIndices(x, y, 100);
    expect(kept).toHaveLength(100);
    expect(kept[0]).toBe(0);
    expect(kept[99]).toBe(999);
    for (let i = 1; i < kept.length; i++) expect(kept[i]).toBeGreaterThan(kept[i - 1]);
  });
  it('keeps a lone spike', () => {
    const y = x.map((i) => (i === 537 ? 50 : 0));
    expect(lttbIndices(x, y, 50)).toContain(537);
  });
  it('skips missing values', () => {
    const kept = lttbIndices([0, 1, 2, 3], [1, null, NaN, 2], 10);
    expect(kept).toEqual([0, 3]);
  });
});
