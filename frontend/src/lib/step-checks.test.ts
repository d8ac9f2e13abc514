import { describe, expect, it } from 'vitest';
import { compositionOf, compositionText, DEFAULT_COMPOSITION, locateToken, nameList, partOperator, summariseChecks, tokenCheck } from './step-checks';
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

describe('objective composition', () => {
  it('reads the parts the server names, in its order', () => {
    const checks = { ...makeStep().checks!, composition: [{ term: 'surrogate', sign: 1 }, { term: 'kl_penalty', sign: -1 }] };
    expect(compositionOf(checks)).toEqual([{ term: 'surrogate', sign: 1 }, { term: 'kl_penalty', sign: -1 }]);
    expect(summariseChecks({ ...makeStep(), checks })!.composition).toEqual(checks.composition);
  });

  it('falls back to the old three parts when the server sends none', () => {
    expect(compositionOf(makeStep().checks)).toEqual([...DEFAULT_COMPOSITION]);
    expect(compositionOf({ ...makeStep().checks!, composition: null })).toEqual([...DEFAULT_COMPOSITION]);
    expect(compositionOf(undefined)).toEqual([...DEFAULT_COMPOSITION]);
    expect(summariseChecks(makeStep())!.composition.map((p) => p.term)).toEqual(['surrogate', 'kl_penalty', 'entropy_bonus']);
  });

  it('drops malformed entries instead of guessing', () => {
    const composition = [{ term: 'a', sign: 1 }, { term: '', sign: 1 }, { term: 'b', sign: 'x' }, null, { term: 'c', sign: -1 }];
    const checks = { ...makeStep().checks!, composition: composition as never };
    expect(compositionOf(checks)).toEqual([{ term: 'a', sign: 1 }, { term: 'c', sign: -1 }]);
  });

  it('writes the composition as text', () => {
    expect(compositionText(DEFAULT_COMPOSITION)).toBe('surrogate − kl_penalty + entropy_bonus');
    expect(compositionText([{ term: 'kl_penalty', sign: -1 }, { term: 'surrogate', sign: 2 }])).toBe('−kl_penalty + 2·surrogate');
    expect(compositionText([{ term: 'surrogate', sign: 1 }])).toBe('surrogate');
    expect(compositionText([])).toBe('0');
    expect(partOperator({ term: 'x', sign: -0.5 }, false)).toEqual({ op: '−', factor: '0.5·' });
  });
});
