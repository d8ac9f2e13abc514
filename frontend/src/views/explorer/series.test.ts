import { describe, expect, it } from 'vitest';
import { RUN_COLOURS, runColour, valueAtStep } from './series';

describe('series helpers', () => {
  const metrics = { step: [1, 2, 4], columns: { loss: [0.5, null, 0.25] }, downsampled: true, total: 4 };
  it('returns the logged value at the nearest logged step', () => {
    expect(valueAtStep(metrics, 'loss', 4)).toEqual({ step: 4, value: 0.25, approximate: false });
    expect(valueAtStep(metrics, 'loss', 3.6)).toEqual({ step: 4, value: 0.25, approximate: true });
    expect(valueAtStep(metrics, 'loss', 2)!.value).toBeNull();
    expect(valueAtStep(metrics, 'missing', 2)).toBeNull();
  });
  it('cycles run colours', () => {
    expect(runColour(RUN_COLOURS.length)).toBe(RUN_COLOURS[0]);
  });
});
