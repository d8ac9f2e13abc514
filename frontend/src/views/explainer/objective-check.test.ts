import { describe, expect, it } from 'vitest';
import { checkTokenObjective } from './objective-check';
import { makeStep, makeTamperedStep } from './test-fixtures';

describe('checkTokenObjective', () => {
  it('shows the stored parts with the server verdict', () => {
    const check = checkTokenObjective(makeStep(), { response: 0, position: 0 });
    expect(check.status).toBe('match');
    expect(check.token_objective).toBe(0.76);
    expect(check.surrogate).toBe(0.77);
    expect(check.residual).toBe(0);
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
