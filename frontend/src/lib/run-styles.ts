// The one run → colour (and line style) assignment of the app. The run rail, the linear chart,
// its legend and the side-by-side steps all draw a run with the style this module gives its id,
// so "dapo" is the same orange dashed line everywhere.
//
// Styles belong to run ids, not to positions in a list: a run keeps its style when other runs are
// selected, deselected, reordered or still loading. Ids are given slots in the order they are
// first seen (the server's run list, then any other selected id); an id keeps its slot for the
// life of the page, and a run that appears later takes the next free slot without moving anyone.

export interface RunStyle {
  /** Order of first sight; decides colour and dash. */
  slot: number;
  colour: string;
  /** SVG stroke-dasharray ('' = solid). */
  dash: string;
}

/**
 * Ten colours, most distinct first, picked for white backgrounds and mutually apart in hue and
 * lightness (tested: CIELAB ΔE ≥ 20 between any two of them).
 */
export const RUN_PALETTE = [
  '#2f5fd0', // blue
  '#e8710a', // orange
  '#1e8e3e', // green
  '#c5221f', // red
  '#8e44c8', // purple
  '#0f9aa3', // teal
  '#8d5524', // brown
  '#e0489a', // pink
  '#5b6472', // slate
  '#a3a000', // olive
];

/**
 * Line styles: coinciding curves of two runs stay visible. The dash cycle (4) and the palette (10)
 * run side by side, so the first 20 runs have different colour+dash pairs.
 */
export const RUN_DASHES = ['', '7 4', '2 3', '10 3 2 3'];

/** Style of an id the assignment has not seen (never expected once the run list is loaded). */
export const UNASSIGNED_STYLE: RunStyle = { slot: -1, colour: '#98a2b3', dash: '' };

export function styleOfSlot(slot: number): RunStyle {
  return { slot, colour: RUN_PALETTE[slot % RUN_PALETTE.length], dash: RUN_DASHES[slot % RUN_DASHES.length] };
}

/**
 * Styles for `ids` (in order of first sight), keeping every style already in `previous`. The
 * result holds `previous`' entries too, so passing it back in keeps all assignments stable.
 */
export function assignRunStyles(ids: readonly string[], previous: ReadonlyMap<string, RunStyle> = new Map()): Map<string, RunStyle> {
  const styles = new Map(previous);
  const taken = new Set([...styles.values()].map((s) => s.slot));
  let next = 0;
  for (const id of ids) {
    if (styles.has(id)) continue;
    while (taken.has(next)) next++;
    styles.set(id, styleOfSlot(next));
    taken.add(next);
  }
  return styles;
}

export function runStyle(styles: ReadonlyMap<string, RunStyle>, id: string): RunStyle {
  return styles.get(id) ?? UNASSIGNED_STYLE;
}
