// A formula wider than its card (PPO's GAE: Â = Σ(γλ)^l δ, δ = ρ + γV′ − V) was cut at the card's
// edge behind an invisible scrollbar. Such a formula is broken into lines at its top-level \quad
// and shrunk to fit, down to a readable minimum; what still does not fit keeps scrolling, with a
// fade at the edge saying so.
// Layout only: widths of the rendered formula, never a value of the data.

/** Font scale that makes `contentWidth` fit `boxWidth` (layout px), never below `min` nor above 1. */
export function fitScale(contentWidth: number, boxWidth: number, min = 0.72): number {
  if (!(contentWidth > 0) || !(boxWidth > 0) || contentWidth <= boxWidth) return 1;
  // 2% slack: KaTeX's widths round differently at the smaller size.
  return Math.max(min, Math.floor((boxWidth / contentWidth) * 0.98 * 100) / 100);
}

/**
 * Fit the KaTeX displays inside `box` (a scrolling container). Marks the box `overflowing` when
 * the formula still needs scrolling at the smallest scale; answers whether it was wider than the
 * box at full size (then the card breaks it into lines, see splitDisplayLines). Uses layout
 * widths (scrollWidth / clientWidth), which the explainer canvas's zoom transform does not change.
 */
export function fitFormula(box: HTMLElement, min = 0.72): boolean {
  const displays = [...box.querySelectorAll<HTMLElement>('.katex-display')];
  if (!displays.length) return false;
  for (const display of displays) display.style.fontSize = '';
  const overflowsAtFullSize = box.scrollWidth > box.clientWidth + 1;
  const scale = fitScale(box.scrollWidth, box.clientWidth, min);
  if (scale < 1) for (const display of displays) display.style.fontSize = `${scale}em`;
  box.classList.toggle('overflowing', box.scrollWidth > box.clientWidth + 1);
  return overflowsAtFullSize;
}

/**
 * The formula cut into display lines at its top-level `\quad` separators (",\quad" joins two
 * equations in the server's cards: PPO's GAE sum and its TD error). Only at depth 0 — outside
 * braces, \left…\right and environments — so every term wrapper stays whole. One element when
 * there is nothing to cut. The LaTeX itself is not changed, only where lines break.
 */
export function splitDisplayLines(latex: string): string[] {
  const lines: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < latex.length; i++) {
    const ch = latex[i];
    if (ch === '{') depth++;
    else if (ch === '}') depth--;
    else if (ch === '\\') {
      const command = /^\\([A-Za-z]+)/.exec(latex.slice(i, i + 12))?.[1];
      if (command === 'left' || command === 'begin') depth++;
      else if (command === 'right' || command === 'end') depth--;
      else if (command === 'quad' && depth === 0 && !/^[A-Za-z]/.test(latex[i + 5] ?? '')) {
        lines.push(latex.slice(start, i));
        start = i + 5;
      }
      if (command) i += command.length;
      else i++; // an escaped character: \{ \} \, \\ ...
    }
  }
  lines.push(latex.slice(start));
  const kept = lines.map((line) => line.trim()).filter((line) => line.length > 0 && line !== ',');
  return kept.length ? kept : [latex];
}
