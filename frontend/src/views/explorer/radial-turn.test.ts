import { describe, expect, it } from 'vitest';
import { turnBetween, unturn } from './radial-turn';

describe('radial turn', () => {
  it('takes the short way round', () => {
    expect(turnBetween(0.2, Math.PI / 2)).toBeCloseTo(Math.PI / 2 - 0.2);
    // From 11 o'clock to 3 o'clock: clockwise through 12 (+), not back round through 6.
    expect(turnBetween((11 / 6) * Math.PI, Math.PI / 2)).toBeCloseTo((2 / 3) * Math.PI);
    expect(turnBetween(Math.PI, Math.PI / 2)).toBeCloseTo(-Math.PI / 2);
  });

  it('scales with the animation and clamps it', () => {
    expect(turnBetween(0, 1, 0)).toBe(0);
    expect(turnBetween(0, 1, 0.5)).toBeCloseTo(0.5);
    expect(turnBetween(0, 1, 2)).toBeCloseTo(1);
  });

  it('maps a pointer on the turned chart back to the unturned angle', () => {
    const rotation = turnBetween(4, Math.PI / 2);
    expect(unturn(4 + rotation, rotation)).toBeCloseTo(4);
    expect(unturn(0.1, 0.3)).toBeCloseTo(2 * Math.PI - 0.2);
    expect(unturn(0, 0)).toBe(0);
  });
});
