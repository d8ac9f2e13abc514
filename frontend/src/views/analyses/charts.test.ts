import { describe, expect, it } from 'vitest';
import { colour, extent, polyline, project, scatter } from './charts';

const box = { width: 100, height: 50, pad: 10 };

describe('extent', () => {
  it('spans every finite value and widens a flat series', () => {
    expect(extent([[1, null, 3], [2, NaN]])).toEqual({ min: 1, max: 3 });
    expect(extent([[0.25, 0.25]])).toEqual({ min: 0.125, max: 0.375 });
    expect(extent([[]])).toEqual({ min: 0, max: 1 });
    expect(extent([[2, 3]], true)).toEqual({ min: 0, max: 3 });
    expect(extent([[0, 0]], true)).toEqual({ min: 0, max: 1 });
  });
});

describe('projection', () => {
  it('maps the domain onto the padded box, y upwards', () => {
    const d = { min: 0, max: 10 };
    expect(project(0, d, 100, 10)).toBe(10);
    expect(project(10, d, 100, 10)).toBe(90);
    expect(project(10, d, 50, 10, true)).toBe(10);
    expect(project(0, d, 50, 10, true)).toBe(40);
  });
  it('skips missing values in scatters and lines', () => {
    const pts = scatter([0, 5, 10], [0, null, 10], box, { min: 0, max: 10 }, { min: 0, max: 10 });
    expect(pts).toEqual([{ cx: 10, cy: 40 }, { cx: 90, cy: 10 }]);
    expect(polyline([0, 10], [0, 10], box, { min: 0, max: 10 }, { min: 0, max: 10 })).toBe('10.0,40.0 90.0,10.0');
  });
  it('cycles the palette', () => {
    expect(colour(0)).toBe(colour(8));
    expect(colour(1)).not.toBe(colour(0));
  });
});
