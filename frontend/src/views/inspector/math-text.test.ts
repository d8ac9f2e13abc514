import { describe, expect, it } from 'vitest';
import { hasMath, segmentMath } from './math-text';

describe('segmentMath', () => {
  it('splits inline and display math from the text around it', () => {
    expect(segmentMath('Solve $x^2 = 4$, then \\(y\\) and $$\\frac{a}{b}$$ or \\[z\\].')).toEqual([
      { kind: 'text', text: 'Solve ' },
      { kind: 'math', tex: 'x^2 = 4', display: false, raw: '$x^2 = 4$' },
      { kind: 'text', text: ', then ' },
      { kind: 'math', tex: 'y', display: false, raw: '\\(y\\)' },
      { kind: 'text', text: ' and ' },
      { kind: 'math', tex: '\\frac{a}{b}', display: true, raw: '$$\\frac{a}{b}$$' },
      { kind: 'text', text: ' or ' },
      { kind: 'math', tex: 'z', display: true, raw: '\\[z\\]' },
      { kind: 'text', text: '.' },
    ]);
  });
  it('leaves prices, escaped dollars, unclosed and empty delimiters as text', () => {
    for (const text of ['It costs $5 and $10.', 'a \\$x\\$ b', 'open $x and never closed', '$$ $', '$ x$', 'a\\(b']) {
      expect(segmentMath(text)).toEqual([{ kind: 'text', text }]);
    }
  });
  it('keeps hostile markup as text, inside or outside math', () => {
    const hostile = '<img src=x onerror=alert(1)> $<b>x</b>$';
    const segments = segmentMath(hostile);
    expect(segments[0]).toEqual({ kind: 'text', text: '<img src=x onerror=alert(1)> ' });
    expect(segments[1]).toMatchObject({ kind: 'math', tex: '<b>x</b>' });
    expect(segments.map((s) => (s.kind === 'text' ? s.text : s.raw)).join('')).toBe(hostile);
  });
  it('never joins across a blank line and says when a text has math', () => {
    expect(segmentMath('$a\n\nb$')).toEqual([{ kind: 'text', text: '$a\n\nb$' }]);
    expect(hasMath('2 + 2 = 4')).toBe(false);
    expect(hasMath('area $\\pi r^2$')).toBe(true);
    expect(hasMath(null)).toBe(false);
  });
});
