import { describe, expect, it } from 'vitest';
import { isSpike, spikeMarkers, type SpikesResult } from './spike-markers';

const result: SpikesResult = {
  threshold: 100, z: 3, window: 20, updates: 10, notes: [],
  spikes: [
    { step: 4, grad_norm: 7.37, z: 5.1, scaled: null, reasons: ['z-score 5.10 ≥ 3 over the previous 3 updates'], stored: true, gradloc: { response: 2, position: 1 } },
    { step: 9, grad_norm: 3, z: null, scaled: 90, reasons: ['grad_norm 3 > τ/√tokens'], stored: false, gradloc: null },
  ],
};

describe('spikeMarkers', () => {
  it('one marker per flagged step, the selected one marked, unstored ones not openable', () => {
    const markers = spikeMarkers(result, 4);
    expect(markers.map((m) => [m.step, m.current, m.openable])).toEqual([[4, true, true], [9, false, false]]);
    expect(markers[0].title).toContain('GradLoc culprit: response 2, position 1');
    expect(markers[1].title).toContain('tokens not stored');
  });
  it('nothing before the analysis arrives', () => {
    expect(spikeMarkers(null, 1)).toEqual([]);
  });
  it('isSpike', () => {
    expect(isSpike(result, 9)).toBe(true);
    expect(isSpike(result, 5)).toBe(false);
    expect(isSpike(result, null)).toBe(false);
  });
});
