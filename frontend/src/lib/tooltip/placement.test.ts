import { describe, expect, it } from 'vitest';
import { placeTooltip } from './placement';

describe('placeTooltip', () => {
  it('places below-right of the anchor when there is room', () => {
    expect(placeTooltip(100, 100, 50, 30, 800, 600)).toEqual({ left: 110, top: 110 });
  });
  it('flips left and up near the viewport edges', () => {
    expect(placeTooltip(780, 590, 100, 40, 800, 600)).toEqual({ left: 670, top: 540 });
  });
  it('never leaves the viewport on the left or top', () => {
    const p = placeTooltip(20, 20, 500, 500, 400, 300);
    expect(p.left).toBeGreaterThanOrEqual(4);
    expect(p.top).toBeGreaterThanOrEqual(4);
  });
});
