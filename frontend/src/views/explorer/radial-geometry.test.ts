import { describe, expect, it } from 'vitest';
import {
  DEFAULT_GAP,
  END_SNAP,
  angleOf,
  makeFisheye,
  nearestIndex,
  pointerAngle,
  positionOfAngle,
  ringBands,
  valueRadius,
} from './radial-geometry';

describe('angle mapping with the gap', () => {
  it('runs clockwise from just after 12 o clock to just before it', () => {
    expect(angleOf(0)).toBeCloseTo(DEFAULT_GAP / 2);
    expect(angleOf(1)).toBeCloseTo(2 * Math.PI - DEFAULT_GAP / 2);
    expect(angleOf(0.5)).toBeCloseTo(Math.PI); // half way = 6 o'clock
    expect(angleOf(1) - angleOf(0)).toBeCloseTo(2 * Math.PI - DEFAULT_GAP);
  });
  it('inverts, and reports the gap as no position', () => {
    for (const t of [0, 0.1, 0.5, 0.99, 1]) expect(positionOfAngle(angleOf(t))).toBeCloseTo(t);
    expect(positionOfAngle(0)).toBeNull();
    expect(positionOfAngle(2 * Math.PI - 0.01)).toBeNull();
  });
  it('snaps a click in the gap to the nearer end step', () => {
    const justBeforeFirst = angleOf(0) - 0.01;
    const justAfterLast = angleOf(1) + 0.01;
    expect(positionOfAngle(justBeforeFirst, DEFAULT_GAP, END_SNAP)).toBe(0);
    expect(positionOfAngle(justAfterLast, DEFAULT_GAP, END_SNAP)).toBe(1);
    expect(positionOfAngle(0.001, DEFAULT_GAP, END_SNAP)).toBe(0); // right of 12 o'clock: first step
    expect(positionOfAngle(-0.001, DEFAULT_GAP, END_SNAP)).toBe(1); // left of it: last step
    expect(positionOfAngle(justBeforeFirst, DEFAULT_GAP, 0.005)).toBeNull(); // beyond the tolerance
    expect(positionOfAngle(Math.PI, DEFAULT_GAP, END_SNAP)).toBeCloseTo(0.5);
  });
  it('measures pointer angles clockwise from up in screen coordinates', () => {
    expect(pointerAngle(0, -10)).toBeCloseTo(0);
    expect(pointerAngle(10, 0)).toBeCloseTo(Math.PI / 2); // right = 3 o'clock
    expect(pointerAngle(0, 10)).toBeCloseTo(Math.PI);
    expect(pointerAngle(-10, 0)).toBeCloseTo((3 * Math.PI) / 2);
  });
});

describe('fisheye lens', () => {
  const focuses = [0, 0.003, 0.2, 0.5, 0.97, 1];
  it('is strictly monotonic and fixes both ends', () => {
    for (const focus of focuses) {
      const f = makeFisheye(focus, 6 / 1000);
      expect(f.forward(0)).toBeCloseTo(0);
      expect(f.forward(1)).toBeCloseTo(1);
      let previous = -Infinity;
      for (let i = 0; i <= 2000; i++) {
        const u = f.forward(i / 2000);
        expect(u).toBeGreaterThan(previous);
        previous = u;
      }
    }
  });
  it('magnifies the window and inverts exactly', () => {
    const f = makeFisheye(0.5, 0.01, 5);
    expect(f.forward(0.51) - f.forward(0.49)).toBeCloseTo(0.1);
    for (let i = 0; i <= 100; i++) expect(f.inverse(f.forward(i / 100))).toBeCloseTo(i / 100, 10);
  });
  it('caps the magnified share and is the identity without focus', () => {
    const f = makeFisheye(0.5, 0.2, 5, 0.4);
    expect(f.forward(0.7) - f.forward(0.3)).toBeCloseTo(0.4);
    const none = makeFisheye(null, 0.01);
    expect(none.forward(0.3)).toBe(0.3);
    expect(makeFisheye(0.5, 2).forward(0.3)).toBe(0.3); // window covers everything
  });
});

describe('rings and values', () => {
  it('stacks bands from the outside in with padding', () => {
    const bands = ringBands(2, 50, 150, 10);
    expect(bands).toEqual([
      { inner: 105, outer: 150 },
      { inner: 50, outer: 95 },
    ]);
  });
  it('places values inside their band', () => {
    const band = { inner: 100, outer: 140 };
    expect(valueRadius(5, 0, 10, band)).toBe(120);
    expect(valueRadius(null, 0, 10, band)).toBeNull();
    expect(valueRadius(3, 3, 3, band)).toBe(120);
  });
  it('finds the nearest step', () => {
    expect(nearestIndex([1, 5, 9], 6)).toBe(1);
    expect(nearestIndex([1, 5, 9], 8)).toBe(2);
    expect(nearestIndex([1, 5, 9], -3)).toBe(0);
    expect(nearestIndex([], 3)).toBe(-1);
  });
});
