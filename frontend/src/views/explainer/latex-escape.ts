// Token strings, prompts and run names are untrusted. Whenever one of them has to appear inside a
// formula it goes through here: every character that means something to TeX is replaced by a
// text-mode command, so the string can only ever render as literal text (KaTeX then HTML-escapes
// the characters themselves). Nothing from a token can open a command such as \href or \htmlClass.

const TEXT_MODE_REPLACEMENTS: Record<string, string> = {
  '\\': '\\textbackslash{}',
  '{': '\\{',
  '}': '\\}',
  $: '\\$',
  '&': '\\&',
  '#': '\\#',
  _: '\\_',
  '%': '\\%',
  '~': '\\textasciitilde{}',
  '^': '\\textasciicircum{}',
};

// Whitespace is made visible: a learner must be able to tell " the" from "the".
const VISIBLE_WHITESPACE: Record<string, string> = {
  ' ': '␣',
  '\n': '⏎',
  '\r': '␍',
  '\t': '⇥',
};

/** Escapes `raw` for use inside \text{...}. Control characters are dropped. */
export function escapeLatexText(raw: string, { visibleWhitespace = true } = {}): string {
  let escaped = '';
  for (const ch of raw) {
    if (visibleWhitespace && ch in VISIBLE_WHITESPACE) {
      escaped += VISIBLE_WHITESPACE[ch];
    } else if (ch in TEXT_MODE_REPLACEMENTS) {
      escaped += TEXT_MODE_REPLACEMENTS[ch];
    } else if (/[\u0000-\u001f\u007f]/.test(ch)) {
      continue;
    } else {
      escaped += ch;
    }
  }
  return escaped;
}

/** A token string as a quoted LaTeX text box, safe to splice into any formula. */
export function tokenTextLatex(raw: string, maxChars = 24): string {
  const chars = Array.from(raw);
  const shortened = chars.length > maxChars ? chars.slice(0, maxChars - 1).join('') + '…' : raw;
  return `\\text{“${escapeLatexText(shortened)}”}`;
}

/**
 * A token as a subscript: a framed typewriter box, so a symbol token reads as a token and not as
 * part of the formula (w with a bare “=” under it read as a typo: w_"=").
 */
export function tokenSubscriptLatex(raw: string, maxChars = 12): string {
  const chars = Array.from(raw);
  const shortened = chars.length > maxChars ? chars.slice(0, maxChars - 1).join('') + '…' : raw;
  return `\\fbox{\\texttt{${escapeLatexText(shortened)}}}`;
}
