import { describe, expect, it } from 'vitest';
import {
  bindTermValues,
  flatTokenIndex,
  formatStoredValue,
  lookupField,
  responseLength,
  selectedTokenString,
} from './term-values';
import { makeStep } from './test-fixtures';

describe('term value binding', () => {
  const step = makeStep();

  it('finds the flat index of a token through the offsets', () => {
    expect(flatTokenIndex(step, { response: 1, position: 1 })).toBe(2);
    expect(flatTokenIndex(step, { response: 2, position: 0 })).toBe(3);
    expect(flatTokenIndex(step, { response: 1, position: 2 })).toBeNull();
    expect(flatTokenIndex(step, { response: 7, position: 0 })).toBeNull();
    expect(responseLength(step, 2)).toBe(1);
  });

  it('reads per-token columns first, then per-response columns', () => {
    expect(lookupField(step, { response: 1, position: 1 }, 'ratio')).toEqual({ source: 'token', value: 1.3 });
    expect(lookupField(step, { response: 1, position: 1 }, 'reward')).toEqual({ source: 'response', value: 0 });
    expect(lookupField(step, { response: 1, position: 1 }, 'value')).toEqual({ source: 'missing', value: null });
    // `offsets` is structure, never a term value
    expect(lookupField(step, { response: 0, position: 0 }, 'offsets').source).toBe('missing');
  });

  it('binds every term that names a field', () => {
    const bound = bindTermValues(
      [
        { key: 'r', field: 'ratio' },
        { key: 'A', field: 'advantage' },
        { key: 'N', field: null },
      ],
      step,
      { response: 0, position: 0 },
    );
    expect(bound.get('r')?.value).toBe(1.1);
    expect(bound.get('A')?.value).toBe(0.7);
    expect(bound.has('N')).toBe(false);
    expect(bindTermValues([{ key: 'r', field: 'ratio' }], step, null).size).toBe(0);
  });

  it('reads missing inputs, never missing results, from the stored step', () => {
    const whatIf = makeStep();
    delete (whatIf.tokens as Record<string, unknown>).ratio;
    whatIf.responses = {};
    const bound = bindTermValues(
      [
        { key: 'R', field: 'reward' },
        { key: 'r', field: 'ratio' },
      ],
      whatIf,
      { response: 1, position: 0 },
      step,
    );
    expect(bound.get('R')).toEqual({ source: 'response', value: 0 });
    expect(bound.get('r')).toEqual({ source: 'missing', value: null });
  });

  it('returns the selected token string', () => {
    expect(selectedTokenString(step, { response: 1, position: 1 })).toBe('!');
    expect(selectedTokenString(step, null)).toBeNull();
  });

  it('formats values for display only', () => {
    expect(formatStoredValue(null)).toBe('—');
    expect(formatStoredValue(0.123456)).toBe('0.1235');
    expect(formatStoredValue(3)).toBe('3');
    expect(formatStoredValue(1.5e-5)).toBe('1.500e-5');
    expect(formatStoredValue(-2.5)).toBe('-2.5');
  });
});

describe('response count', () => {
  it('reads N from per-response columns, or from N + 1 offsets', async () => {
    const { responseCount } = await import('./term-values');
    const step = makeStep();
    expect(responseCount(step)).toBe(3);
    step.responses = {};
    expect(responseCount(step)).toBe(3);
  });
});
