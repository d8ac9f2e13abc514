// Rewrites the server's formula LaTeX around its term wrappers \htmlClass{t-KEY}{...} — to show a
// selected token's stored values under its terms and the token's own (escaped) string in place of
// the generic index. Only the wrappers are touched; the rest of the server's LaTeX is kept as is.
import type { BoundValue } from './term-values';
import { formatStoredValue } from './term-values';
import { tokenSubscriptLatex } from './latex-escape';

const TERM_OPEN = /\\htmlClass\{t-([A-Za-z0-9_]+)\}\{/y;

export interface TermSpan {
  key: string;
  /** Index of the backslash of \htmlClass. */
  start: number;
  /** First character inside the body braces. */
  innerStart: number;
  /** Index of the body's closing brace. */
  innerEnd: number;
}

/** Index of the brace closing the group that opens just before `from`; -1 when unbalanced.
 * A backslash escapes the next character, so \{ and \} are not group braces. */
export function matchingBrace(latex: string, from: number): number {
  let depth = 1;
  for (let i = from; i < latex.length; i++) {
    const ch = latex[i];
    if (ch === '\\') {
      i++;
      continue;
    }
    if (ch === '{') depth++;
    else if (ch === '}' && --depth === 0) return i;
  }
  return -1;
}

/** Outermost term wrappers, in order of appearance. */
export function findTerms(latex: string): TermSpan[] {
  const spans: TermSpan[] = [];
  let i = 0;
  while (i < latex.length) {
    if (latex[i] === '\\') {
      TERM_OPEN.lastIndex = i;
      const match = TERM_OPEN.exec(latex);
      if (match) {
        const innerStart = i + match[0].length;
        const innerEnd = matchingBrace(latex, innerStart);
        if (innerEnd < 0) break; // malformed: leave the rest untouched
        spans.push({ key: match[1], start: i, innerStart, innerEnd });
        i = innerEnd + 1;
        continue;
      }
      i += 2; // skip the escaped character
      continue;
    }
    i++;
  }
  return spans;
}

/** Rebuilds `latex` with each term body replaced by `rewrite(key, body, occurrence)` (null = keep).
 * Nested terms are rewritten first. `occurrence` counts earlier wrappers with the same key. */
export function rewriteTerms(
  latex: string,
  rewrite: (key: string, body: string, occurrence: number) => string | null,
  seen: Map<string, number> = new Map(),
): string {
  let out = '';
  let cursor = 0;
  for (const span of findTerms(latex)) {
    const occurrence = seen.get(span.key) ?? 0;
    seen.set(span.key, occurrence + 1);
    const body = rewriteTerms(latex.slice(span.innerStart, span.innerEnd), rewrite, seen);
    const replaced = rewrite(span.key, body, occurrence);
    out += latex.slice(cursor, span.innerStart) + (replaced ?? body) + '}';
    cursor = span.innerEnd + 1;
  }
  return out + latex.slice(cursor);
}

/** A stored number as LaTeX (display precision only). */
export function numberLatex(value: number): string {
  const text = formatStoredValue(value);
  const exp = /^(-?[\d.]+)e([+-]?\d+)$/.exec(text);
  if (exp) return `${exp[1]}\\times10^{${Number(exp[2])}}`;
  return /^-?[\d.]+$/.test(text) ? text : '\\text{?}';
}

const TOKEN_INDEX = /_\{i,\s*t\}/g;

export interface AnnotateOptions {
  values: Map<string, BoundValue>;
  /** The selected token's string; replaces the generic (i,t) index of per-token terms. */
  tokenString: string | null;
}

/** A symbol indexed at another token than the selected one: V_{i,t+1}, δ_{i,t+l}, x_{i,t-1}. */
const SHIFTED_INDEX = /_\{i,\s*t\s*[+-]/;

/**
 * The card's LaTeX with the selected token's stored values written under the first occurrence of
 * each bound term, and per-token symbols indexed by the token itself: r_{i,t} becomes r_{"the"}.
 * A per-token value is never written under a symbol of a neighbouring token: in GAE's
 * δ_{i,t} = ρ_{i,t} + γV_{i,t+1} − V_{i,t} the stored value of V at t goes under V_{i,t}, not
 * under V_{i,t+1} (which is another token's value).
 */
export function annotateFormula(latex: string, { values, tokenString }: AnnotateOptions): string {
  const tokenIndex = tokenString === null ? null : `_{${tokenSubscriptLatex(tokenString)}}`;
  const annotated = new Set<string>();
  return rewriteTerms(latex, (key, body) => {
    const bound = values.get(key);
    let symbol = body;
    if (tokenIndex && bound?.source === 'token') symbol = symbol.replace(TOKEN_INDEX, tokenIndex);
    const elsewhere = bound?.source === 'token' && SHIFTED_INDEX.test(body);
    if (annotated.has(key) || elsewhere || !bound || typeof bound.value !== 'number') return symbol === body ? null : symbol;
    annotated.add(key);
    return `\\underset{\\htmlClass{term-value}{${numberLatex(bound.value)}}}{${symbol}}`;
  });
}
