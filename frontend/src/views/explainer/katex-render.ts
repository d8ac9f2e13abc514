// The only path by which HTML reaches the page through {@html}: KaTeX output for the formula
// LaTeX the server sends. Trust is limited to \htmlClass with plain class names, so even a
// formula string cannot produce links, styles, data attributes or raw HTML.
import katex from 'katex';

const SAFE_CLASS_LIST = /^[A-Za-z0-9_ -]+$/;

export function isTrustedCommand(context: { command: string; class?: string }): boolean {
  return context.command === '\\htmlClass' && typeof context.class === 'string' && SAFE_CLASS_LIST.test(context.class);
}

export function renderFormulaHtml(latex: string, displayMode = true): string {
  return katex.renderToString(latex, {
    displayMode,
    throwOnError: false,
    output: 'html',
    strict: 'ignore',
    trust: (context) => isTrustedCommand(context as { command: string; class?: string }),
    maxExpand: 200,
  });
}
