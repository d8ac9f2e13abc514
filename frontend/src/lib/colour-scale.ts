// The one colour-scale module for every heat map in the app. A scale maps a value the server
// sent to a background colour, a readable text colour, and legend ticks; it never changes the value.
import { interpolateLab, interpolateViridis, piecewise, rgb } from 'd3';

// Red (negative) → neutral grey-white (exactly zero) → blue (positive); the five ColorBrewer RdBu
// stops, so zero is the same neutral colour on every heat map.
const DIVERGING_STOPS = ['#b2182b', '#ef8a62', '#f7f7f7', '#67a9cf', '#2166ac'];
const interpolateDiverging = piecewise(interpolateLab, DIVERGING_STOPS);

export type ScaleKind = 'diverging' | 'sequential' | 'categorical';

export interface LegendTick {
  value: number;
  label: string;
  colour: string;
}

export interface ColourScale {
  kind: ScaleKind;
  /** Values beyond the domain are drawn with the end colour (the legend says so with ≤ / ≥). */
  domain: [number, number];
  colour(value: number | null | undefined): string;
  /** Black or white, whichever reads better on colour(value). */
  textColour(value: number | null | undefined): string;
  ticks: LegendTick[];
  /** Colours sampled along the domain for a gradient legend bar (empty for categorical). */
  gradient: string[];
}

/** Drawn for tokens without a value (masked, missing column): a neutral grey. */
export const MISSING_COLOUR = '#e6e6e6';

function finiteValues(values: Iterable<number | null | undefined>): number[] {
  const out: number[] = [];
  for (const v of values) if (typeof v === 'number' && Number.isFinite(v)) out.push(v);
  return out;
}

/** Linear-interpolated quantile (same definition as numpy's default) of already sorted values. */
export function quantileSorted(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * [low, high] percentiles of the finite values (default 2nd and 98th): a few extreme tokens
 * would otherwise wash every other token out to white.
 */
export function percentileDomain(
  values: Iterable<number | null | undefined>,
  lowPercentile = 2,
  highPercentile = 98,
): [number, number] | null {
  const sorted = finiteValues(values).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  return [quantileSorted(sorted, lowPercentile / 100), quantileSorted(sorted, highPercentile / 100)];
}

/** Compact, human label for a legend tick (not used for tooltips, which show full precision). */
export function formatTick(value: number): string {
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 1e4 || abs < 1e-3) return value.toExponential(1);
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 1) return value.toFixed(2).replace(/\.?0+$/, '');
  return value.toPrecision(2);
}

/** WCAG 2 relative luminance of a CSS colour (0 black … 1 white). */
export function relativeLuminance(colour: string): number {
  const c = rgb(colour);
  const linear = (channel: number) => {
    const s = channel / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * linear(c.r) + 0.7152 * linear(c.g) + 0.0722 * linear(c.b);
}

/** WCAG 2 contrast ratio between two colours (1 … 21). */
export function contrastRatio(a: string, b: string): number {
  const [hi, lo] = [relativeLuminance(a), relativeLuminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

/** Black or white, whichever contrasts more with the background: at least 4.58:1 on any colour
 * (the two are equal at luminance 0.179), so token text always meets WCAG AA. */
export function readableText(background: string): string {
  return contrastRatio(background, '#ffffff') >= contrastRatio(background, '#000000') ? '#ffffff' : '#000000';
}

function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}

/**
 * Diverging scale centred at zero (or at `centre`, e.g. 1 for a ratio): the centre is neutral,
 * below it red, above it blue. The domain is symmetric, centre ± max(|p2 − c|, |p98 − c|), so
 * equal colour strength means equal distance from the centre on both sides.
 */
export function divergingScale(
  values: Iterable<number | null | undefined>,
  lowPercentile = 2,
  highPercentile = 98,
  centre = 0,
): ColourScale {
  const range = percentileDomain(values, lowPercentile, highPercentile);
  let extent = range ? Math.max(Math.abs(range[0] - centre), Math.abs(range[1] - centre)) : 0;
  if (!(extent > 0)) extent = centre === 0 ? 1 : Math.abs(centre) * 0.01 || 1; // constant data: keep a valid scale
  const position = (v: number) => clamp01(0.5 + (v - centre) / (2 * extent));
  const colour = (v: number | null | undefined) =>
    typeof v === 'number' && Number.isFinite(v) ? interpolateDiverging(position(v)) : MISSING_COLOUR;
  const tickValues = [-extent, -extent / 2, 0, extent / 2, extent].map((d) => centre + d);
  const ticks = tickValues.map((value, i) => ({
    value,
    label: (i === 0 ? '≤ ' : i === tickValues.length - 1 ? '≥ ' : '') + formatTick(value),
    colour: colour(value),
  }));
  return {
    kind: 'diverging',
    domain: [centre - extent, centre + extent],
    colour,
    textColour: (v) => readableText(colour(v)),
    ticks,
    gradient: Array.from({ length: 11 }, (_, i) => interpolateDiverging(i / 10)),
  };
}

/**
 * Sequential scale for non-negative quantities such as a probability or an entropy. With a fixed
 * domain (probability: [0, 1]) the data are not consulted; otherwise the percentile domain is used.
 */
export function sequentialScale(
  values: Iterable<number | null | undefined>,
  fixedDomain?: [number, number],
  lowPercentile = 2,
  highPercentile = 98,
  /** Start the domain at 0 (a quantity that is never negative: no tick below 0). */
  fromZero = false,
): ColourScale {
  let domain = fixedDomain ?? percentileDomain(values, lowPercentile, highPercentile) ?? [0, 1];
  if (fromZero && !fixedDomain) domain = [0, Math.max(0, domain[1])];
  if (!(domain[1] > domain[0])) domain = [domain[0], domain[0] + 1];
  const [lo, hi] = domain;
  // Light end for small values so text stays readable on most tokens; viridis reversed.
  const at = (t: number) => interpolateViridis(1 - 0.85 * clamp01(t));
  const colour = (v: number | null | undefined) =>
    typeof v === 'number' && Number.isFinite(v) ? at((v - lo) / (hi - lo)) : MISSING_COLOUR;
  const tickValues = [lo, lo + (hi - lo) / 2, hi];
  return {
    kind: 'sequential',
    domain: [lo, hi],
    colour,
    textColour: (v) => readableText(colour(v)),
    ticks: tickValues.map((value, i) => ({
      value,
      label: (!fixedDomain && !fromZero && i === 0 ? '≤ ' : !fixedDomain && i === 2 ? '≥ ' : '') + formatTick(value),
      colour: colour(value),
    })),
    gradient: Array.from({ length: 11 }, (_, i) => at(i / 10)),
  };
}

export interface Category {
  value: number;
  label: string;
  colour: string;
}

/** Discrete states coded as numbers by the server (e.g. clip state: none / low / high). */
export function categoricalScale(categories: Category[]): ColourScale {
  const byValue = new Map(categories.map((c) => [c.value, c.colour]));
  const colour = (v: number | null | undefined) =>
    typeof v === 'number' && byValue.has(v) ? (byValue.get(v) as string) : MISSING_COLOUR;
  const values = categories.map((c) => c.value);
  return {
    kind: 'categorical',
    domain: [Math.min(...values), Math.max(...values)],
    colour,
    textColour: (v) => readableText(colour(v)),
    ticks: categories.map((c) => ({ value: c.value, label: c.label, colour: c.colour })),
    gradient: [],
  };
}

/** Clip state of a token, from the logged clipped_low / clipped_high flags: 0 none, -1 low, 1 high. */
export const CLIP_CATEGORIES: Category[] = [
  { value: -1, label: 'clipped low', colour: '#d6604d' },
  { value: 0, label: 'not clipped', colour: '#f7f7f7' },
  { value: 1, label: 'clipped high', colour: '#4393c3' },
];

/**
 * A quantity whose sign depends on how it is estimated (KL: k1 may be negative, k3 and k2 never
 * are): diverging around 0 when any value is negative, else sequential from 0 (a k3 KL legend
 * with negative ticks suggested values that cannot occur).
 */
export function signAwareScale(values: Iterable<number | null | undefined>): ColourScale {
  const list = [...values];
  const negative = list.some((v) => typeof v === 'number' && Number.isFinite(v) && v < 0);
  return negative ? divergingScale(list) : sequentialScale(list, undefined, 2, 98, true);
}
