import { describe, expect, it } from 'vitest';
import { annotateFormula, findTerms, matchingBrace, numberLatex, rewriteTerms } from './term-latex';
import { renderFormulaHtml } from './katex-render';
import type { BoundValue } from './term-values';

const CLIP =
  '\\htmlClass{t-surrogate}{u_{i,t}} = \\min\\!\\Big(\\htmlClass{t-ratio}{r_{i,t}}\\,\\htmlClass{t-advantage}{\\hat{A}_{i,t}},\\ ' +
  '\\htmlClass{t-min_branch}{\\mathrm{clip}}\\big(\\htmlClass{t-ratio}{r_{i,t}}, 1-\\htmlClass{t-epsilon_low}{\\varepsilon_{\\text{low}}}\\big)\\Big)';

describe('term parsing', () => {
  it('matches braces, skipping escaped ones', () => {
    expect(matchingBrace('a\\}b}c', 0)).toBe(4);
    expect(matchingBrace('{x}}', 0)).toBe(3);
    expect(matchingBrace('{', 0)).toBe(-1);
  });

  it('finds every term wrapper in order', () => {
    expect(findTerms(CLIP).map((t) => t.key)).toEqual(['surrogate', 'ratio', 'advantage', 'min_branch', 'ratio', 'epsilon_low']);
  });

  it('handles nested wrappers and leaves unbalanced input alone', () => {
    const nested = '\\htmlClass{t-a}{x + \\htmlClass{t-b}{y}}';
    expect(rewriteTerms(nested, (key, body) => `[${key}:${body}]`)).toBe('\\htmlClass{t-a}{[a:x + \\htmlClass{t-b}{[b:y]}]}');
    expect(rewriteTerms('\\htmlClass{t-a}{x', () => 'boom')).toBe('\\htmlClass{t-a}{x');
  });
});

describe('annotateFormula', () => {
  const values = new Map<string, BoundValue>([
    ['ratio', { source: 'token', value: 1.25 }],
    ['advantage', { source: 'token', value: -0.5 }],
    ['surrogate', { source: 'token', value: null }],
  ]);

  it('writes stored values under the first occurrence of each bound term', () => {
    const out = annotateFormula(CLIP, { values, tokenString: null });
    expect(out.match(/term-value/g)?.length).toBe(2);
    expect(out).toContain('\\underset{\\htmlClass{term-value}{1.25}}{r_{i,t}}');
    expect(out).toContain('\\underset{\\htmlClass{term-value}{-0.5}}{\\hat{A}_{i,t}}');
    expect(renderFormulaHtml(out)).not.toContain('katex-error');
  });

  it('indexes per-token symbols by the escaped token string', () => {
    const out = annotateFormula(CLIP, { values, tokenString: '}\\evil{' });
    expect(out).toContain('r_{\\fbox{\\texttt{\\}\\textbackslash{}evil\\{}}}');
    const html = renderFormulaHtml(out);
    expect(html).not.toContain('katex-error');
    expect(html).toContain('evil');
  });

  it('never writes a token\u2019s value under a neighbouring token\u2019s symbol (GAE: V_{i,t+1}, \u03b4_{i,t+l})', () => {
    const gae =
      '\\htmlClass{t-advantage}{\\hat{A}_{i,t}} = \\sum_{l \\ge 0} (\\gamma\\lambda)^l \\htmlClass{t-td_error}{\\delta_{i,t+l}},\\quad ' +
      '\\htmlClass{t-td_error}{\\delta_{i,t}} = \\htmlClass{t-token_reward}{\\rho_{i,t}} + \\gamma \\htmlClass{t-value}{V_{i,t+1}} - \\htmlClass{t-value}{V_{i,t}}';
    const bound = new Map<string, BoundValue>([
      ['advantage', { source: 'token', value: -0.6547 }],
      ['td_error', { source: 'token', value: -0.05023 }],
      ['token_reward', { source: 'token', value: 0.5 }],
      ['value', { source: 'token', value: 0.1929 }],
    ]);
    const out = annotateFormula(gae, { values: bound, tokenString: '=' });
    expect(out).toContain('\\htmlClass{t-td_error}{\\delta_{i,t+l}}');
    expect(out).toContain('\\htmlClass{t-value}{V_{i,t+1}}');
    expect(out).toMatch(/\\underset\{\\htmlClass\{term-value\}\{-0.05023\}\}\{\\delta_\{/);
    expect(out).toMatch(/- \\htmlClass\{t-value\}\{\\underset\{\\htmlClass\{term-value\}\{0.1929\}\}\{V_\{/);
    expect(out.match(/term-value/g)?.length).toBe(4);
    expect(renderFormulaHtml(out)).not.toContain('katex-error');
  });

  it('frames a symbol token in its subscript, never a bare quoted symbol (w_"=")', () => {
    const out = annotateFormula(CLIP, { values, tokenString: '=' });
    expect(out).toContain('r_{\\fbox{\\texttt{=}}}');
    expect(out).not.toContain('“');
    const html = renderFormulaHtml(out);
    expect(html).toContain('fbox');
    expect(html).not.toContain('katex-error');
  });

  it('formats numbers as LaTeX', () => {
    expect(numberLatex(2.5e-7)).toBe('2.500\\times10^{-7}');
    expect(numberLatex(-3)).toBe('-3');
    expect(numberLatex(NaN)).toBe('\\text{?}');
  });
});
