import { describe, expect, it } from 'vitest';
import { seriesRange, spliceWindow, valueAtStep, windowAround } from './series';

describe('series helpers', () => {
  const metrics = { step: [1, 2, 4], columns: { loss: [0.5, null, 0.25] }, downsampled: true, total: 4 };
  it('returns the logged value at the nearest logged step', () => {
    expect(valueAtStep(metrics, 'loss', 4)).toEqual({ step: 4, value: 0.25, approximate: false });
    expect(valueAtStep(metrics, 'loss', 3.6)).toEqual({ step: 4, value: 0.25, approximate: true });
    expect(valueAtStep(metrics, 'loss', 2)!.value).toBeNull();
    expect(valueAtStep(metrics, 'missing', 2)).toBeNull();
  });
  it('splices a full-resolution window into a down-sampled series', () => {
    const base = { step: [0, 10, 20, 30], columns: { loss: [1, 2, 3, 4], kl: [0, 0, 0, 0] }, downsampled: true, total: 31 };
    const fine = { step: [9, 10, 11, 12], columns: { loss: [1.9, 2, 2.1, 2.2] }, downsampled: false, total: 4 };
    const merged = spliceWindow(base, { runId: 'r', start: 9, end: 12, payload: fine });
    expect(merged.step).toEqual([0, 9, 10, 11, 12, 20, 30]);
    expect(merged.columns.loss).toEqual([1, 1.9, 2, 2.1, 2.2, 3, 4]);
    expect(merged.columns.kl).toEqual([0, null, null, null, null, 0, 0]);
    expect(merged.total).toBe(31);
    expect(spliceWindow(base, null)).toBe(base);
  });
  it('refetches a window only when the lens leaves the one held', () => {
    expect(windowAround(50, 6, 24, null)).toEqual({ start: 26, end: 74 });
    expect(windowAround(60, 6, 24, { start: 26, end: 74 })).toBeNull();
    expect(windowAround(70, 6, 24, { start: 26, end: 74 })).toEqual({ start: 46, end: 94 });
    expect(windowAround(3, 6, 24, null)).toEqual({ start: 0, end: 27 });
  });
  it('gives the extent of the finite values', () => {
    expect(seriesRange([3, null, -1, NaN, 2])).toEqual([-1, 3]);
    expect(seriesRange([null])).toBeNull();
  });
});
