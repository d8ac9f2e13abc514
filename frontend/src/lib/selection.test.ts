import { describe, expect, it } from 'vitest';
import { DEFAULT_SELECTION, decodeSelection, encodeSelection, type AppSelection } from './selection';

describe('URL selection state', () => {
  it('round-trips a full selection', () => {
    const selection: AppSelection = {
      runs: ['grpo-a', 'dapo b'],
      step: 12,
      token: { response: 3, position: 41 },
      colour: 'entropy',
      compare: 'dr_grpo',
      whatif: true,
      explorer: 'linear',
      metrics: ['reward/mean', 'loss'],
    };
    expect(decodeSelection(encodeSelection(selection))).toEqual(selection);
  });

  it('encodes the defaults as an empty query', () => {
    expect(encodeSelection(DEFAULT_SELECTION)).toBe('');
    expect(decodeSelection('')).toEqual(DEFAULT_SELECTION);
  });

  it('rejects malformed numbers and unknown colour sources', () => {
    const s = decodeSelection('?run=a&step=-1&token=x:2&colour=<script>');
    expect(s.step).toBeNull();
    expect(s.token).toBeNull();
    expect(s.colour).toBe('grad_coef');
  });

  it('colours by the push g by default and keeps an explicit objective choice in the link', () => {
    expect(DEFAULT_SELECTION.colour).toBe('grad_coef');
    const q = encodeSelection({ ...DEFAULT_SELECTION, colour: 'token_objective' });
    expect(q).toBe('?colour=token_objective');
    expect(decodeSelection(q).colour).toBe('token_objective');
    expect(decodeSelection('?colour=grad_coef').colour).toBe('grad_coef');
  });

  it('drops a token and a what-if without a step', () => {
    const s = decodeSelection('?token=1:2&whatif=1');
    expect(s.token).toBeNull();
    expect(s.whatif).toBe(false);
  });

  it('escapes run names with separators safely', () => {
    const q = encodeSelection({ ...DEFAULT_SELECTION, runs: ['a&b=c'] });
    expect(decodeSelection(q).runs).toEqual(['a&b=c']);
  });
});
