// Prompts and responses as text with math: only the `$…$`, `$$…$$`, `\(…\)` and `\[…\]` segments
// are typeset (KaTeX, trust: false), everything else stays plain text. KaTeX builds the math as
// DOM nodes (katex.render), so nothing of the untrusted text is ever parsed as HTML.
import katex from 'katex';

export type MathSegment =
  | { kind: 'text'; text: string }
  | { kind: 'math'; tex: string; display: boolean; raw: string };

// Longer openers first so `$$` is not read as an empty `$…$`.
const DELIMITERS = [
  { open: '$$', close: '$$', display: true },
  { open: '\\[', close: '\\]', display: true },
  { open: '\\(', close: '\\)', display: false },
  { open: '$', close: '$', display: false },
] as const;
const MAX_MATH_LENGTH = 2000; // a stray `$` must not swallow a whole long response

function escaped(text: string, at: number): boolean {
  let slashes = 0;
  for (let i = at - 1; i >= 0 && text[i] === '\\'; i--) slashes++;
  return slashes % 2 === 1;
}

/** Where the segment opened at `start` by a single `$` closes, or -1. Like Pandoc's tex_math_dollars:
 * the opener is not followed by a space, the closer not preceded by one nor followed by a digit,
 * so "costs $5 and $10" stays text. */
function closeDollar(text: string, start: number): number {
  if (start + 1 >= text.length || /\s/.test(text[start + 1])) return -1;
  for (let i = start + 1; i < text.length && i - start <= MAX_MATH_LENGTH; i++) {
    if (text[i] === '\n' && text[i + 1] === '\n') return -1; // never across a paragraph
    if (text[i] !== '$' || escaped(text, i)) continue;
    if (/\s/.test(text[i - 1]) || /[0-9]/.test(text[i + 1] ?? '')) continue;
    return i;
  }
  return -1;
}

export function segmentMath(text: string): MathSegment[] {
  const out: MathSegment[] = [];
  let plain = '';
  let i = 0;
  while (i < text.length) {
    const delimiter = DELIMITERS.find((d) => text.startsWith(d.open, i) && !escaped(text, i));
    let end = -1;
    if (delimiter) {
      if (delimiter.open === '$') end = closeDollar(text, i);
      else {
        end = text.indexOf(delimiter.close, i + delimiter.open.length);
        if (end - i > MAX_MATH_LENGTH) end = -1;
      }
    }
    if (!delimiter || end < 0 || end === i + delimiter.open.length) {
      plain += text[i];
      i++;
      continue;
    }
    if (plain) out.push({ kind: 'text', text: plain });
    plain = '';
    const stop = end + delimiter.close.length;
    out.push({ kind: 'math', tex: text.slice(i + delimiter.open.length, end), display: delimiter.display, raw: text.slice(i, stop) });
    i = stop;
  }
  if (plain) out.push({ kind: 'text', text: plain });
  return out;
}

export function hasMath(text: string | null | undefined): boolean {
  return !!text && segmentMath(text).some((s) => s.kind === 'math');
}

/** Svelte action: typesets one math segment into `node` (KaTeX DOM, no HTML string, no trusted commands). */
export function typeset(node: HTMLElement, segment: { tex: string; display: boolean }) {
  const draw = (s: { tex: string; display: boolean }) =>
    katex.render(s.tex, node, { displayMode: s.display, throwOnError: false, trust: false, strict: 'ignore', output: 'html', maxExpand: 200 });
  draw(segment);
  return { update: draw };
}
