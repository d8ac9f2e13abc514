// Draws the links between formula cards into an SVG group (d3 data join), so a link follows its
// cards when they are dragged. Geometry comes from card-layout.ts.
import { select } from 'd3';
import { linkPath, type CardLink, type CardPositions, type Size, DEFAULT_CARD_SIZE } from './card-layout';

export function drawCardLinks(
  group: SVGGElement,
  links: CardLink[],
  positions: CardPositions,
  sizes: Record<string, Size>,
  activeCard: string | null,
): void {
  const drawable = links.filter((l) => positions[l.from] && positions[l.to]);
  select(group)
    .selectAll<SVGPathElement, CardLink>('path.card-link')
    .data(drawable, (l) => `${l.from}→${l.to}`)
    .join('path')
    .attr('class', 'card-link')
    .classed('active', (l) => l.to === activeCard || l.from === activeCard)
    .attr('d', (l) =>
      linkPath(positions[l.from], sizes[l.from] ?? DEFAULT_CARD_SIZE, positions[l.to], sizes[l.to] ?? DEFAULT_CARD_SIZE),
    )
    .attr('marker-end', 'url(#card-link-arrow)');
}
