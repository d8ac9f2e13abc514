// How a token string is shown: whitespace that would otherwise be invisible gets a visible marker,
// and a newline also breaks the line, so the response keeps its shape. Display only; the raw
// string is still shown verbatim in the tooltip.

export interface TokenDisplay {
  text: string;
  /** The token ends a line: render a line break after it. */
  breakAfter: boolean;
}

const NEWLINE_MARK = '↵';
const TAB_MARK = '→';
const SPACE_MARK = '·';
const EMPTY_MARK = '∅';

function escapeControl(ch: string): string {
  return `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`;
}

export function displayToken(token: string): TokenDisplay {
  if (token.length === 0) return { text: EMPTY_MARK, breakAfter: false };
  let text = '';
  for (const ch of token) {
    if (ch === '\n') text += NEWLINE_MARK;
    else if (ch === '\r') continue;
    else if (ch === '\t') text += TAB_MARK;
    else if (ch < ' ' || ch === '\x7f') text += escapeControl(ch);
    else text += ch;
  }
  // A token made only of spaces would be an unreadable sliver: show one dot per space.
  if (/^ +$/.test(text)) text = SPACE_MARK.repeat(text.length);
  if (text.length === 0) text = EMPTY_MARK;
  return { text, breakAfter: token.endsWith('\n') };
}
