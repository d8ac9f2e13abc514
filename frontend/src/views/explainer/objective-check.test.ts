import { describe, expect, it } from 'vitest';
import { checkTokenObjective, partTitle } from './objective-check';
import { makeStep, makeTamperedStep } from './test-fixtures';

describe('checkTokenObjective', () => {
  it('shows the stored parts with the server verdict', () => {
    const check = checkTokenObjective(makeStep(), { response: 0, position: 0 });
    expect(check.status).toBe('match');
    expect(check.token_objective).toBe(0.76);
    expect(check.parts.find((p) => p.term === 'surrogate')?.value).toBe(0.77);
    expect(check.residual).toBe(0);
  });

  it('falls back to surrogate − kl_penalty + entropy_bonus when the server sends no composition', () => {
    const check = checkTokenObjective(makeStep(), { response: 1, position: 0 });
    expect(check.parts.map((p) => [p.op, p.term, p.value])).toEqual([
      ['', 'surrogate', -0.56],
      ['−', 'kl_penalty', 0.02],
      ['+', 'entropy_bonus', 0],
    ]);
  });

  it('shows the parts the server names in checks.composition, in its order', () => {
    const step = makeStep();
    (step.tokens as Record<string, unknown>).is_term = [0.5, 0.25, 0, 0];
    step.checks = { ...step.checks!, composition: [{ term: 'is_term', sign: 1 }, { term: 'kl_penalty', sign: -1 }, { term: 'not_stored', sign: 0.5 }] };
    const check = checkTokenObjective(step, { response: 0, position: 0 });
    expect(check.parts.map((p) => ({ op: p.op, factor: p.factor, term: p.term, value: p.value }))).toEqual([
      { op: '', factor: '', term: 'is_term', value: 0.5 },
      { op: '−', factor: '', term: 'kl_penalty', value: 0.01 },
      { op: '+', factor: '0.5·', term: 'not_stored', value: null },
    ]);
    expect(check.parts[1].title).toBe('stored β·KL');
    expect(partTitle('is_term')).toBe('stored is_term');
    // The verdict is still the server's: nothing is added up here.
    expect(check.status).toBe('match');
  });

  it('flags the token the server found not adding up (e.g. an imported run)', () => {
    const check = checkTokenObjective(makeTamperedStep(), { response: 1, position: 0 });
    expect(check.status).toBe('mismatch');
    expect(check.residual).toBe(1.06);
    expect(checkTokenObjective(makeTamperedStep(), { response: 1, position: 1 }).status).toBe('match');
  });

  it('never judges by itself: a payload whose values disagree but whose checks pass stays a match', () => {
    const step = makeStep();
    (step.tokens.token_objective as number[])[0] = 99;
    expect(checkTokenObjective(step, { response: 0, position: 0 }).status).toBe('match');
  });

  it('lists what the server could not check', () => {
    const step = makeStep();
    delete (step.tokens as Record<string, unknown>).kl_penalty;
    step.checks = { ...step.checks!, objective_ok: null, objective_residual: null, objective_mismatches: null, missing: { objective: ['kl_penalty'], loss: [] } };
    const check = checkTokenObjective(step, { response: 0, position: 0 });
    expect(check.status).toBe('incomplete');
    expect(check.missing).toEqual(['kl_penalty']);
  });

  it('notes tokens excluded by token selection', () => {
    const step = makeStep();
    (step.tokens.selected as number[])[2] = 0;
    expect(checkTokenObjective(step, { response: 1, position: 1 }).notSelected).toBe(true);
  });
});
