// The one tooltip of the app. Views call showTooltip / hideTooltip (typically from a single
// delegated pointer listener on a container); <Tooltip /> is mounted once by App.svelte.
// Content is plain text rows: nothing here is ever interpreted as HTML.

export interface TooltipRow {
  label: string;
  value: string;
  /** Emphasised row (e.g. the colour source currently shown). */
  strong?: boolean;
  /** A run's line sample before the label (lib/run-styles.ts). */
  key?: { colour: string; dash: string };
}

export interface TooltipContent {
  title?: string;
  rows?: TooltipRow[];
  note?: string;
}

export interface TooltipState extends TooltipContent {
  visible: boolean;
  /** Viewport coordinates of the anchor point (the tooltip is placed beside it). */
  x: number;
  y: number;
}

export const tooltip: TooltipState = $state({ visible: false, x: 0, y: 0, title: '', rows: [], note: '' });

/** Anchor: a viewport point, or an element whose bounding box the tooltip is placed below. */
export type TooltipAnchor = { x: number; y: number } | Element;

export function showTooltip(anchor: TooltipAnchor, content: TooltipContent): void {
  let x: number;
  let y: number;
  if ('getBoundingClientRect' in anchor) {
    const rect = anchor.getBoundingClientRect();
    x = rect.left + rect.width / 2;
    y = rect.bottom;
  } else {
    x = anchor.x;
    y = anchor.y;
  }
  tooltip.x = x;
  tooltip.y = y;
  tooltip.title = content.title ?? '';
  tooltip.rows = content.rows ?? [];
  tooltip.note = content.note ?? '';
  tooltip.visible = true;
}

export function hideTooltip(): void {
  tooltip.visible = false;
}
