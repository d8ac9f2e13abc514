// The "contribution" colour source added to the inspector for the analyses.
import { describe, expect, it } from 'vitest';
import { availableSources, colourValues, resolveColourSource } from '../inspector/colour-source';
import type { StepPayload } from '../../lib/types';

function step(tokens: Record<string, (number | null)[]>): StepPayload {
  return { step: 1, rollout: 0, epoch: 0, minibatch: 0, metrics: {}, responses: { response: [0] }, tokens: { offsets: [0, 3], ...tokens } } as unknown as StepPayload;
}

describe('contribution colour source', () => {
  it('paints the stored grad_contribution column as it is', () => {
    const s = step({ grad_coef: [0.1, -0.2, 0], grad_contribution: [0.5, 2, 0] });
    expect(availableSources(s)).toContain('contribution');
    expect(colourValues(s, 'contribution')).toEqual([0.5, 2, 0]);
  });
  it('is unavailable without exact attribution, and falls back', () => {
    const s = step({ grad_coef: [0.1, -0.2, 0] });
    expect(availableSources(s)).not.toContain('contribution');
    expect(resolveColourSource(availableSources(s), 'contribution').source).toBe('grad_coef');
  });
});
