import { describe, expect, it } from 'vitest';
import { agreesWithin, checkTokenObjective } from './objective-check';
import { makeStep } from './test-fixtures';

describe('checkTokenObjective', () => {
  it('reports a match when the stored terms compose the stored objective', () => {
    const check = checkTokenObjective(makeStep(), { response: 0, position: 0 });
    expect(check.status).toBe('match');
    expect(check.token_objective).toBe(0.76);
  });

  it('flags a mismatch (e.g. an imported run)', () => {
    const step = makeStep();
    (step.tokens.token_objective as number[])[1] = 0.5;
    expect(checkTokenObjective(step, { response: 1, position: 0 }).status).toBe('mismatch');
  });

  it('tolerates float32 rounding', () => {
    expect(agreesWithin(0.1 + 0.2, 0.3)).toBe(true);
    expect(agreesWithin(Math.fround(123.456), 123.456)).toBe(true);
    expect(agreesWithin(1.0, 1.01)).toBe(false);
  });

  it('lists missing stored columns instead of guessing', () => {
    const step = makeStep();
    delete (step.tokens as Record<string, unknown>).kl_penalty;
    const check = checkTokenObjective(step, { response: 0, position: 0 });
    expect(check.status).toBe('incomplete');
    expect(check.missing).toEqual(['kl_penalty']);
  });

  it('does not compose tokens excluded by token selection', () => {
    const step = makeStep();
    (step.tokens.selected as number[])[2] = 0;
    expect(checkTokenObjective(step, { response: 1, position: 1 }).status).toBe('not-selected');
  });
});
