import { describe, expect, it } from 'vitest';
import { chooseMetrics, formatValue, metricDefinition, plottableMetrics } from './metric-info';

describe('metric info', () => {
  it('defines known metrics and falls back for unknown ones', () => {
    expect(metricDefinition('kl_mean')).toMatch(/KL/);
    expect(metricDefinition('<b>x</b>')).toBe('Logged by the run for every update (no definition stored with it).');
    // An imported run's own definition wins, for names UNIPO knows and for names it does not.
    expect(metricDefinition('custom', { custom: ' Score from the log. ' })).toBe('Score from the log.');
    expect(metricDefinition('loss', { loss: 'Their loss.' })).toBe('Their loss.');
    expect(metricDefinition('loss', { loss: 3 })).not.toBe('3');
  });
  it('offers only non-schedule columns that have values', () => {
    expect(plottableMetrics({ step: [1], rollout: [0], loss: [1], empty: [null], a: [NaN, 2] })).toEqual(['a', 'loss']);
  });
  it('keeps the user choice when present, else preferred defaults', () => {
    expect(chooseMetrics(['a', 'kl', 'loss'], ['kl', 'gone'])).toEqual(['kl']);
    expect(chooseMetrics(['a', 'kl_mean', 'loss', 'reward_mean'], [])).toEqual(['reward_mean', 'loss', 'kl_mean']);
    expect(chooseMetrics(['x', 'y'], [])).toEqual(['x', 'y']);
    expect(chooseMetrics(['a', 'b', 'c', 'd', 'e'], ['a', 'b', 'c', 'd', 'e'])).toHaveLength(4);
  });
  it('formats values', () => {
    expect(formatValue(null)).toBe('—');
    expect(formatValue(0.123456)).toBe('0.1235');
    expect(formatValue(12)).toBe('12');
    expect(formatValue(1.5)).toBe('1.5');
    expect(formatValue(1e-7)).toBe('1.000e-7');
  });
});
