import { describe, expect, it } from 'vitest';
import {
  CLIP_CATEGORIES,
  MISSING_COLOUR,
  categoricalScale,
  contrastRatio,
  divergingScale,
  percentileDomain,
  quantileSorted,
  readableText,
  sequentialScale,
} from './colour-scale';

describe('percentileDomain', () => {
  it('matches numpy percentiles (linear interpolation)', () => {
    const values = Array.from({ length: 101 }, (_, i) => i); // 0..100
    expect(percentileDomain(values)).toEqual([2, 98]);
    expect(quantileSorted([0, 10], 0.25)).toBeCloseTo(2.5);
  });
  it('ignores null, NaN and infinities', () => {
    expect(percentileDomain([null, NaN, Infinity, 1, 1])).toEqual([1, 1]);
    expect(percentileDomain([null])).toBeNull();
  });
});

describe('divergingScale', () => {
  it('is centred at zero with a symmetric 2nd-98th percentile domain', () => {
    const values = [...Array.from({ length: 98 }, (_, i) => (i - 49) / 49), -50, 80];
    const scale = divergingScale(values);
    expect(scale.domain[0]).toBeCloseTo(-scale.domain[1]);
    expect(scale.domain[1]).toBeLessThan(5); // the outliers do not set the domain
    expect(scale.colour(0)).toBe('rgb(247, 247, 247)'); // exactly the neutral middle stop
    expect(scale.colour(80)).toBe(scale.colour(scale.domain[1])); // clamped
    expect(scale.ticks.map((t) => t.value)).toEqual([
      scale.domain[0], scale.domain[0] / 2, 0, scale.domain[1] / 2, scale.domain[1],
    ]);
    expect(scale.ticks[0].label.startsWith('≤')).toBe(true);
  });
  it('colours negative red and positive blue', () => {
    const scale = divergingScale([-1, 1]);
    const [r1, , b1] = scale.colour(-1).match(/\d+/g)!.map(Number);
    const [r2, , b2] = scale.colour(1).match(/\d+/g)!.map(Number);
    expect(r1).toBeGreaterThan(b1);
    expect(b2).toBeGreaterThan(r2);
  });
  it('can centre on another value (a ratio centres on 1)', () => {
    const scale = divergingScale([0.8, 1, 1.1], 0, 100, 1);
    expect(scale.domain[0]).toBeCloseTo(0.8);
    expect(scale.domain[1]).toBeCloseTo(1.2);
    expect(scale.colour(1)).toBe(divergingScale([0]).colour(0));
  });
  it('survives all-zero data and missing values', () => {
    const scale = divergingScale([0, 0, null]);
    expect(scale.domain).toEqual([-1, 1]);
    expect(scale.colour(null)).toBe(MISSING_COLOUR);
  });
  it('picks a readable text colour', () => {
    const scale = divergingScale([-1, 1]);
    expect(scale.textColour(0)).toBe('#000000');
    expect(scale.textColour(1)).toBe('#ffffff');
  });
  it('keeps token text at WCAG AA contrast (>= 4.5:1) on every colour of every scale', () => {
    const scales = [divergingScale([-1, 1]), divergingScale([0.5, 1.5], 2, 98, 1), sequentialScale([0, 1], [0, 1]),
      sequentialScale([0, 3]), categoricalScale(CLIP_CATEGORIES)];
    for (const scale of scales) {
      const [lo, hi] = scale.domain;
      for (let i = 0; i <= 200; i++) {
        const v = lo + ((hi - lo) * i) / 200;
        const background = scale.colour(scale.kind === 'categorical' ? Math.round(v) : v);
        expect(contrastRatio(background, scale.textColour(scale.kind === 'categorical' ? Math.round(v) : v)))
          .toBeGreaterThanOrEqual(4.5);
      }
    }
    // The two cases that failed before: lime (sequential's light end) and dark red.
    expect(readableText('#b2182b')).toBe('#ffffff');
    expect(contrastRatio('#fde725', readableText('#fde725'))).toBeGreaterThanOrEqual(4.5);
    expect(contrastRatio('#000000', '#ffffff')).toBeCloseTo(21, 5);
  });
});

describe('sequentialScale and categoricalScale', () => {
  it('uses a fixed probability domain when given', () => {
    const scale = sequentialScale([0.2, 0.3], [0, 1]);
    expect(scale.domain).toEqual([0, 1]);
    expect(scale.colour(0)).not.toBe(scale.colour(1));
  });
  it('maps categories exactly and unknown codes to the missing colour', () => {
    const scale = categoricalScale(CLIP_CATEGORIES);
    expect(scale.colour(1)).toBe('#4393c3');
    expect(scale.colour(7)).toBe(MISSING_COLOUR);
    expect(scale.ticks).toHaveLength(3);
  });
});

import { signAwareScale } from './colour-scale';

describe('signAwareScale (KL)', () => {
  it('has no negative tick for a non-negative estimator (k3)', () => {
    const scale = signAwareScale([0, 0.001, 0.02, 0.3, null]);
    expect(scale.kind).toBe('sequential');
    expect(Math.min(...scale.ticks.map((t) => t.value))).toBe(0);
    expect(scale.ticks.some((t) => t.label.startsWith('-') || t.label.includes('−'))).toBe(false);
  });
  it('diverges around 0 when stored values are negative (k1)', () => {
    const scale = signAwareScale([-0.2, 0.1, 0.3]);
    expect(scale.kind).toBe('diverging');
    expect(scale.ticks[0].value).toBeLessThan(0);
  });
});
