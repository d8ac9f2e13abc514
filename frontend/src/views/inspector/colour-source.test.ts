import { describe, expect, it } from 'vitest';
import { tinyStep } from './test-fixture';
import {
  availableSources,
  colourScaleFor,
  colourSourceInfo,
  colourValues,
  COLOUR_SOURCE_INFO,
  hasTokenColumn,
  legendLabel,
  NO_G_NOTE,
  resolveColourSource,
  tokenPaint,
} from './colour-source';
import { COLOUR_SOURCES, DEFAULT_SELECTION } from '../../lib/selection';
import type { StepPayload } from '../../lib/types';

function withG(step: StepPayload = tinyStep()): StepPayload {
  return { ...step, tokens: { ...step.tokens, grad_coef: [0.7, 0.6, -0.8, 0, 0.01, -0.02].map((v) => -v) } };
}

describe('the push g as a colour source', () => {
  it('is listed first, described through g, and is the default', () => {
    expect(COLOUR_SOURCE_INFO[0].source).toBe('grad_coef');
    expect(COLOUR_SOURCES[0]).toBe('grad_coef');
    expect(DEFAULT_SELECTION.colour).toBe('grad_coef');
    const info = colourSourceInfo('grad_coef');
    expect(info.label).toBe('Push on log-prob (g)');
    expect(info.description).toContain('∂(−loss)/∂ℓ');
    expect(info.description).toContain('blue pushed up, red pushed down, white untouched');
  });

  it('no longer says the objective pushes', () => {
    const info = colourSourceInfo('token_objective');
    expect(info.description).not.toMatch(/pushed (up|down)/);
    expect(info.description).toContain('not the push direction');
  });

  it('passes stored g through and centres its scale at 0', () => {
    const step = withG();
    expect(colourValues(step, 'grad_coef')).toEqual(step.tokens.grad_coef);
    const scale = colourScaleFor('grad_coef', [0.5, -2]);
    expect(scale.kind).toBe('diverging');
    expect(scale.domain[0] + scale.domain[1]).toBeCloseTo(0);
  });

  it('is available only when the step stores g with a value', () => {
    expect(availableSources(tinyStep())).not.toContain('grad_coef');
    expect(availableSources(withG())).toContain('grad_coef');
    const nulls = { ...tinyStep(), tokens: { ...tinyStep().tokens, grad_coef: [null, null, null, null, null, null] } };
    expect(availableSources(nulls)).not.toContain('grad_coef');
    expect(hasTokenColumn(nulls, 'grad_coef')).toBe(false);
    expect(hasTokenColumn(null, 'grad_coef')).toBe(false);
    expect(hasTokenColumn(tinyStep(), 'offsets')).toBe(false);
  });
});

describe('resolveColourSource', () => {
  it('paints what was asked for when the step has it', () => {
    const resolved = resolveColourSource(availableSources(withG()), 'grad_coef');
    expect(resolved).toEqual({ source: 'grad_coef', note: null });
    expect(legendLabel(resolved)).toBe('Push on log-prob (g)');
  });

  it('falls back from g to the objective and says so', () => {
    const resolved = resolveColourSource(availableSources(tinyStep()), 'grad_coef');
    expect(resolved).toEqual({ source: 'token_objective', note: NO_G_NOTE });
    expect(NO_G_NOTE).toBe('no g stored: colouring by objective');
    expect(legendLabel(resolved)).toBe('Token objective (no g stored: colouring by objective)');
  });

  it('falls back from any other missing source to the first available one', () => {
    const resolved = resolveColourSource(['token_objective', 'ratio'], 'kl');
    expect(resolved.source).toBe('token_objective');
    expect(resolved.note).toBe('KL not stored: colouring by Token objective');
    expect(resolveColourSource([], 'kl')).toEqual({ source: 'kl', note: null });
  });
});

describe('tokenPaint (strips outside the inspector)', () => {
  it('paints by g when every loaded step stores it', () => {
    expect(tokenPaint([withG(), null, withG()])).toMatchObject({ column: 'grad_coef', note: null });
    expect(tokenPaint([withG()]).meaning).toContain('pushed up');
  });

  it('paints every step by the objective when one lacks g, so one scale means one quantity', () => {
    const paint = tokenPaint([withG(), tinyStep()]);
    expect(paint).toMatchObject({ column: 'token_objective', note: NO_G_NOTE });
    expect(paint.meaning).not.toMatch(/pushed (up|down)/);
  });

  it('says nothing while no step is loaded', () => {
    expect(tokenPaint([null, undefined])).toMatchObject({ column: 'token_objective', note: null });
    expect(tokenPaint([])).toMatchObject({ column: 'token_objective', note: null });
  });
});
