import { describe, expect, it } from 'vitest';
import { locateToken, nameList, summariseChecks, tokenCheck } from './step-checks';
import { makeStep, makeTamperedStep } from '../views/explainer/test-fixtures';

describe('locateToken', () => {
  it('maps flat indices to (response, position), skipping empty responses', () => {
    const offsets = [0, 2, 2, 5];
    expect(locateToken(offsets, 0)).toEqual({ response: 0, position: 0 });
    expect(locateToken(offsets, 1)).toEqual({ response: 0, position: 1 });
    expect(locateToken(offsets, 2)).toEqual({ response: 2, position: 0 });
    expect(locateToken(offsets, 4)).toEqual({ response: 2, position: 2 });
    expect(locateToken(offsets, 5)).toBeNull();
    expect(locateToken(offsets, -1)).toBeNull();
  });
});

describe('tokenCheck', () => {
  it('reads the server verdict and residual', () => {
    expect(tokenCheck(makeStep(), 0)).toMatchObject({ verdict: 'ok', residual: 0 });
    const tampered = makeTamperedStep();
    expect(tokenCheck(tampered, 1)).toMatchObject({ verdict: 'mismatch', residual: 1.06 });
    expect(tokenCheck(tampered, 2).verdict).toBe('ok');
  });

  it('says unknown past a capped mismatch list, unavailable without checks', () => {
    const step = makeTamperedStep();
    step.checks!.objective_mismatches = { count: 3, indices: [1] };
    expect(tokenCheck(step, 0).verdict).toBe('ok');
    expect(tokenCheck(step, 3).verdict).toBe('unknown');
    const bare = makeStep();
    delete bare.checks;
    expect(tokenCheck(bare, 0).verdict).toBe('unavailable');
  });

  it('reports the columns the server could not check', () => {
    const step = makeStep();
    step.checks = { ...step.checks!, objective_ok: null, objective_residual: null, missing: { objective: ['kl_penalty'], loss: [] } };
    expect(tokenCheck(step, 0)).toMatchObject({ verdict: 'unavailable', missing: ['kl_penalty'] });
  });
});

describe('summariseChecks', () => {
  it('summarises a consistent step', () => {
    const summary = summariseChecks(makeStep())!;
    expect(summary).toMatchObject({ tokens: 4, objective: 'ok', loss: 'ok', mismatchCount: 0, mismatches: [] });
  });

  it('lists mismatching tokens with their place and string', () => {
    const summary = summariseChecks(makeTamperedStep())!;
    expect(summary.objective).toBe('mismatch');
    expect(summary.loss).toBe('mismatch');
    expect(summary.mismatches).toEqual([{ index: 1, response: 1, position: 0, token: '5', residual: 1.06 }]);
  });

  it('is null for a payload without checks', () => {
    const step = makeStep();
    delete step.checks;
    expect(summariseChecks(step)).toBeNull();
  });
});

describe('nameList', () => {
  it('joins names in plain English', () => {
    expect(nameList(['a'])).toBe('a');
    expect(nameList(['a', 'b', 'c'])).toBe('a, b and c');
  });
});
