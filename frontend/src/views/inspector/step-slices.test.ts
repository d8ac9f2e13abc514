import { describe, expect, it } from 'vitest';
import { tinyStep } from './test-fixture';
import { flatIndex, numericTokenColumn, pageRange, promptGroups, responseSlices, responseTokens, rowOfResponse } from './step-slices';
import { colourScaleFor, colourValues, availableSources } from './colour-source';
import { countKept, sliceOf, tokenEmphasis, visibleResponses } from './filters';
import { termColumns, tokenTooltip } from './token-terms';

describe('step payload → per-response slices', () => {
  const step = tinyStep();
  const slices = responseSlices(step);
  it('cuts the flat token columns by offsets', () => {
    expect(slices.map((s) => [s.start, s.end])).toEqual([[0, 2], [2, 3], [3, 6]]);
    expect(slices[2]).toMatchObject({ index: 2, prompt: 1, reward: 0.5, truncated: true, length: 3 });
    expect(slices[0].advantage).toBe(0.7);
    expect(responseTokens(step, slices[2])).toEqual(['<b>', ' x', '']);
  });
  it('groups responses by prompt, keeping prompt text as given', () => {
    const groups = promptGroups(step, slices);
    expect(groups.map((g) => g.responses.length)).toEqual([2, 1]);
    expect(groups[1].promptText).toBe('<img src=x onerror=alert(1)>');
  });
  it('maps (response, position) to a flat index', () => {
    expect(flatIndex(step, 2, 1)).toBe(4);
    expect(flatIndex(step, 1, 1)).toBeNull();
    expect(flatIndex(step, 9, 0)).toBeNull();
    expect(rowOfResponse(slices, 2)).toBe(2);
  });
  it('reads numeric columns with nulls kept', () => {
    expect(numericTokenColumn(step, 'logprob')).toEqual([0, -1, -2, null, -0.5, -0.1]);
    expect(numericTokenColumn(step, 'nope')).toBeNull();
  });
  it('pages', () => {
    expect(pageRange(10, 4, 2)).toEqual({ start: 8, end: 10, pages: 3, page: 2 });
    expect(pageRange(10, 4, 7).page).toBe(2);
    expect(pageRange(0, 4, 0)).toEqual({ start: 0, end: 0, pages: 1, page: 0 });
  });
});

describe('colour sources', () => {
  const step = tinyStep();
  it('passes logged values through unchanged', () => {
    expect(colourValues(step, 'token_objective')).toEqual([0.7, 0.6, -0.8, 0, 0.01, -0.02]);
  });
  it('derives clip state and probability only as display transforms', () => {
    expect(colourValues(step, 'clip')).toEqual([0, 1, 0, 0, -1, 0]);
    expect(colourValues(step, 'probability')?.[0]).toBe(1);
    expect(colourValues(step, 'probability')?.[3]).toBeNull();
  });
  it('lists only sources the step can show', () => {
    expect(availableSources(step)).not.toContain('kl');
    expect(availableSources(step)).toContain('clip');
  });
  it('picks a fitting scale', () => {
    expect(colourScaleFor('token_objective', [1, -1]).kind).toBe('diverging');
    expect(colourScaleFor('probability', [0.1]).domain).toEqual([0, 1]);
    expect(colourScaleFor('clip', []).kind).toBe('categorical');
    const ratio = colourScaleFor('ratio', [0.9, 1.1]);
    expect((ratio.domain[0] + ratio.domain[1]) / 2).toBeCloseTo(1);
  });
});

describe('filters', () => {
  const step = tinyStep();
  it('keeps clipped tokens', () => {
    const e = tokenEmphasis(step, 'clipped');
    expect(e).toEqual([false, true, false, false, true, false]);
    expect(countKept(e)).toBe(2);
    expect(sliceOf(e, responseSlices(step)[2])).toEqual([false, true, false]);
  });
  it('keeps the top-entropy tokens by the server-computed entropy_rank', () => {
    expect(tokenEmphasis(step, 'top-entropy')).toEqual([false, false, true, false, false, false]);
    expect(tokenEmphasis(step, 'none')).toBeNull();
    // Only compares the server's column: rank >= 0.95 is kept, null is not; the raw entropy is unused.
    const ranked = { ...step, tokens: { ...step.tokens, entropy: [9, 9, 9, 9, 9, 9], entropy_rank: [0.95, 0.9499, null, 1, 0, 0.96] } };
    expect(tokenEmphasis(ranked, 'top-entropy')).toEqual([true, false, false, true, false, true]);
    // A step without the column (no entropy stored) has nothing to filter on.
    const { entropy_rank: _, ...withoutRank } = step.tokens;
    expect(tokenEmphasis({ ...step, tokens: withoutRank as typeof step.tokens }, 'top-entropy')).toBeNull();
  });
  it('keeps truncated responses', () => {
    expect(visibleResponses(responseSlices(step), true).map((s) => s.index)).toEqual([2]);
    expect(visibleResponses(responseSlices(step), false)).toHaveLength(3);
  });
});

describe('token tooltip', () => {
  const step = tinyStep();
  it('lists every stored term, objective first, as text', () => {
    expect(termColumns(step).slice(0, 3)).toEqual(['token_objective', 'advantage', 'ratio']);
    const content = tokenTooltip(step, 2, 3, 'token_objective');
    expect(content.title).toBe('"<b>"');
    const row = content.rows!.find((r) => r.label === 'token_objective')!;
    expect(row).toEqual({ label: 'token_objective', value: '0', strong: true });
    expect(content.rows!.find((r) => r.label === 'logprob')!.value).toBe('—');
    expect(content.note).toContain('position 0');
    const withEmpty = { ...step, tokens: { ...step.tokens, value: [null, null, null, null, null, null] } };
    expect(termColumns(withEmpty)).not.toContain('value');
  });
});
