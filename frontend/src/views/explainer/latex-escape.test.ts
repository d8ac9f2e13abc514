import { describe, expect, it } from 'vitest';
import katex from 'katex';
import { escapeLatexText, tokenTextLatex } from './latex-escape';
import { renderFormulaHtml } from './katex-render';

describe('escapeLatexText', () => {
  it('turns every TeX special character into literal text', () => {
    expect(escapeLatexText('a_b^c{d}$e&f#g%h~i\\j', { visibleWhitespace: false })).toBe(
      'a\\_b\\textasciicircum{}c\\{d\\}\\$e\\&f\\#g\\%h\\textasciitilde{}i\\textbackslash{}j',
    );
  });

  it('makes whitespace visible and drops control characters', () => {
    expect(escapeLatexText(' a\n\tb\u0007')).toBe('␣a⏎⇥b');
  });
});

describe('tokenTextLatex', () => {
  const hostile = [
    '<img src=x onerror=alert(1)>',
    '}\\htmlClass{x}{y',
    '\\href{javascript:alert(1)}{x}',
    '\\htmlData{a=b}{c}',
    '$$\\unclosed',
    '\\',
    '}}}}',
    '"><script>alert(1)</script>',
  ];

  it.each(hostile)('renders %j as plain text only', (token) => {
    const html = renderFormulaHtml(`x = ${tokenTextLatex(token)}`);
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<script');
    expect(html).not.toContain('href=');
    expect(html).not.toContain('data-a');
    expect(html).not.toContain('katex-error');
    // the literal characters survive (HTML-escaped by KaTeX)
    expect(html).toContain('katex');
  });

  it('shows the token characters themselves', () => {
    const html = katex.renderToString(tokenTextLatex('a<b'), { throwOnError: true });
    expect(html).toContain('a&lt;b');
  });

  it('shortens long tokens', () => {
    expect(tokenTextLatex('x'.repeat(40), 10)).toBe(`\\text{“${'x'.repeat(9)}…”}`);
  });
});
