// Where each formula card sits on the explainer canvas, and the links between cards.
// The graph comes only from the server's formula: card A links to card B when one of A's terms
// says B explains it (term.card). Cards are placed in rows by link depth, step objective on top,
// so the page reads top-down from "the number the optimizer uses" to "where each part comes from".
import type { FormulaCard } from '../../lib/types';

export interface Point {
  x: number;
  y: number;
}
export interface Size {
  width: number;
  height: number;
}
export interface CardLink {
  from: string;
  to: string;
  termKey: string;
}
export type CardPositions = Record<string, Point>;

export const DEFAULT_CARD_SIZE: Size = { width: 340, height: 210 };
export const GAP = { x: 36, y: 70 };

/** One link per (card, explaining card) pair, in term order; self-references are not links. */
export function cardLinks(cards: FormulaCard[]): CardLink[] {
  const ids = new Set(cards.map((c) => c.id));
  const links: CardLink[] = [];
  const seen = new Set<string>();
  for (const card of cards) {
    for (const term of card.terms) {
      if (!term.card || term.card === card.id || !ids.has(term.card)) continue;
      const pair = `${card.id}→${term.card}`;
      if (seen.has(pair)) continue;
      seen.add(pair);
      links.push({ from: card.id, to: term.card, termKey: term.key });
    }
  }
  return links;
}

/** Depth of every card: roots (never explained by another card) are 0; a card sits one row below
 * the deepest card that links to it. Cycles are cut by visiting each card once per path. */
export function cardDepths(cards: FormulaCard[]): Map<string, number> {
  const links = cardLinks(cards);
  const incoming = new Set(links.map((l) => l.to));
  const children = new Map<string, string[]>();
  for (const link of links) children.set(link.from, [...(children.get(link.from) ?? []), link.to]);
  const depths = new Map<string, number>();
  const visit = (id: string, depth: number, path: Set<string>) => {
    if (path.has(id)) return;
    if ((depths.get(id) ?? -1) >= depth) return;
    depths.set(id, depth);
    path.add(id);
    for (const child of children.get(id) ?? []) visit(child, depth + 1, path);
    path.delete(id);
  };
  const roots = cards.filter((c) => !incoming.has(c.id));
  for (const root of roots.length ? roots : cards.slice(0, 1)) visit(root.id, 0, new Set());
  // Cards only reachable through a cycle still need a row.
  for (const card of cards) if (!depths.has(card.id)) depths.set(card.id, 0);
  return depths;
}

/**
 * Default positions: one row per depth, cards of a row side by side and centred on the widest row.
 * A row wider than `maxRowWidth` wraps onto further lines (a narrow panel gets one column).
 */
export function defaultLayout(
  cards: FormulaCard[],
  sizes: Record<string, Size> = {},
  maxRowWidth = Infinity,
): CardPositions {
  const depths = cardDepths(cards);
  const rows: FormulaCard[][] = [];
  for (const card of cards) {
    const depth = depths.get(card.id) ?? 0;
    (rows[depth] ??= []).push(card);
  }
  const sizeOf = (id: string) => sizes[id] ?? DEFAULT_CARD_SIZE;
  const lineWidth = (line: FormulaCard[]) =>
    line.reduce((sum, c) => sum + sizeOf(c.id).width, 0) + GAP.x * Math.max(0, line.length - 1);
  const lines: FormulaCard[][] = [];
  for (const row of rows) {
    if (!row) continue;
    let line: FormulaCard[] = [];
    for (const card of row) {
      if (line.length && lineWidth([...line, card]) > maxRowWidth) {
        lines.push(line);
        line = [];
      }
      line.push(card);
    }
    lines.push(line);
  }
  const widest = Math.max(0, ...lines.map(lineWidth));
  const positions: CardPositions = {};
  let y = 0;
  for (const line of lines) {
    let x = (widest - lineWidth(line)) / 2;
    for (const card of line) {
      positions[card.id] = { x, y };
      x += sizeOf(card.id).width + GAP.x;
    }
    y += Math.max(...line.map((c) => sizeOf(c.id).height)) + GAP.y;
  }
  return positions;
}

/** Card width for a viewport: as wide as reads well, never wider than the panel. */
export function cardWidthFor(viewportWidth: number, min = 300, max = 420): number {
  return Math.round(Math.max(min, Math.min(max, viewportWidth - 32)));
}

export interface ViewTransform {
  x: number;
  y: number;
  k: number;
}

/**
 * The first view of a layout: the whole canvas when it fits at a readable zoom (≥ minReadable),
 * otherwise the top of the canvas at the widest readable zoom, so the learner starts at the step
 * objective and pans down rather than facing a thumbnail.
 */
export function initialView(
  box: { x: number; y: number; width: number; height: number },
  viewport: { width: number; height: number },
  { pad = 16, minReadable = 0.8 } = {},
): ViewTransform {
  const fitAll = Math.min(1, (viewport.width - 2 * pad) / box.width, (viewport.height - 2 * pad) / box.height);
  if (fitAll >= minReadable) {
    return {
      k: fitAll,
      x: viewport.width / 2 - (box.x + box.width / 2) * fitAll,
      y: viewport.height / 2 - (box.y + box.height / 2) * fitAll,
    };
  }
  const k = Math.max(0.5, Math.min(1, (viewport.width - 2 * pad) / box.width));
  return { k, x: viewport.width / 2 - (box.x + box.width / 2) * k, y: pad - box.y * k };
}

/**
 * "Fit": every card inside the viewport, at whatever zoom that takes (never above 1, never below
 * `minZoom`), centred. The first view (initialView) prefers a readable zoom instead.
 */
export function fitAllView(
  box: { x: number; y: number; width: number; height: number },
  viewport: { width: number; height: number },
  { pad = 12, minZoom = 0.1 } = {},
): ViewTransform {
  const k = Math.max(minZoom, Math.min(1, (viewport.width - 2 * pad) / box.width, (viewport.height - 2 * pad) / box.height));
  return { k, x: viewport.width / 2 - (box.x + box.width / 2) * k, y: viewport.height / 2 - (box.y + box.height / 2) * k };
}

/** An SVG path from the bottom of one card to the top of another (or sideways when level). */
export function linkPath(from: Point, fromSize: Size, to: Point, toSize: Size): string {
  const start = { x: from.x + fromSize.width / 2, y: from.y + fromSize.height };
  const end = { x: to.x + toSize.width / 2, y: to.y };
  if (end.y <= start.y) {
    // The user dragged the child above its parent: connect the nearer sides instead.
    const leftToRight = to.x >= from.x;
    const s = { x: leftToRight ? from.x + fromSize.width : from.x, y: from.y + fromSize.height / 2 };
    const e = { x: leftToRight ? to.x : to.x + toSize.width, y: to.y + toSize.height / 2 };
    const bend = (e.x - s.x) / 2;
    return `M${s.x},${s.y} C${s.x + bend},${s.y} ${e.x - bend},${e.y} ${e.x},${e.y}`;
  }
  const bend = (end.y - start.y) / 2;
  return `M${start.x},${start.y} C${start.x},${start.y + bend} ${end.x},${end.y - bend} ${end.x},${end.y}`;
}

// ---- persistence (per algorithm) ----

export interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export function layoutStorageKey(algorithmName: string): string {
  return `unipo.explainer.layout.v1.${algorithmName}`;
}

/** User-placed positions parsed from storage: any card id, only finite numbers. A corrupt or
 * foreign entry is ignored rather than trusted. */
export function readOverrides(stored: string | null): CardPositions {
  const overrides: CardPositions = {};
  if (!stored) return overrides;
  let parsed: unknown;
  try {
    parsed = JSON.parse(stored);
  } catch {
    return overrides;
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return overrides;
  for (const [id, p] of Object.entries(parsed as Record<string, unknown>)) {
    const point = p as Partial<Point> | null;
    if (point && typeof point === 'object' && Number.isFinite(point.x) && Number.isFinite(point.y)) {
      overrides[id] = { x: point.x as number, y: point.y as number };
    }
  }
  return overrides;
}

/** Defaults with the user's positions on top, for the cards that exist now. */
export function mergePositions(defaults: CardPositions, overrides: CardPositions): CardPositions {
  const merged: CardPositions = { ...defaults };
  for (const id of Object.keys(defaults)) if (Object.hasOwn(overrides, id)) merged[id] = overrides[id];
  return merged;
}

/** Saved positions merged over the defaults. */
export function restoreLayout(stored: string | null, defaults: CardPositions): CardPositions {
  return mergePositions(defaults, readOverrides(stored));
}

/** The positions the user placed for this algorithm's cards ({} when none or storage is unusable). */
export function loadOverrides(storage: KeyValueStorage | null, algorithmName: string): CardPositions {
  try {
    return readOverrides(storage?.getItem(layoutStorageKey(algorithmName)) ?? null);
  } catch {
    return {}; // storage disabled (private mode): fall back silently
  }
}

export function loadLayout(storage: KeyValueStorage | null, algorithmName: string, defaults: CardPositions): CardPositions {
  return mergePositions(defaults, loadOverrides(storage, algorithmName));
}

export function saveLayout(storage: KeyValueStorage | null, algorithmName: string, positions: CardPositions): void {
  try {
    storage?.setItem(layoutStorageKey(algorithmName), JSON.stringify(positions));
  } catch {
    /* storage full or disabled: the layout is simply not remembered */
  }
}

export function clearLayout(storage: KeyValueStorage | null, algorithmName: string): void {
  try {
    storage?.removeItem(layoutStorageKey(algorithmName));
  } catch {
    /* nothing to clear */
  }
}

/** Bounding box of all cards (for "fit to view"). */
export function layoutBounds(positions: CardPositions, sizes: Record<string, Size> = {}) {
  const ids = Object.keys(positions);
  if (ids.length === 0) return { x: 0, y: 0, width: 0, height: 0 };
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (const id of ids) {
    const p = positions[id];
    const s = sizes[id] ?? DEFAULT_CARD_SIZE;
    minX = Math.min(minX, p.x);
    minY = Math.min(minY, p.y);
    maxX = Math.max(maxX, p.x + s.width);
    maxY = Math.max(maxY, p.y + s.height);
  }
  return { x: minX, y: minY, width: maxX - minX, height: maxY - minY };
}
