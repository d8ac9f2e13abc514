// Cards opening progressively from the formula's sections (the reference UNIPO's explainer): the
// loss card is open first; clicking a section of a formula opens the card that explains it. Cards
// no section leads to (e.g. the gradient coefficient) open with the first, so every card stays
// reachable. Layout only: which cards are shown, never a value.
import type { FormulaCard } from '../../lib/types';

/** The cards open at the start: the first card and every card no chain of sections reaches from it. */
export function initialOpenCards(cards: Pick<FormulaCard, 'id' | 'terms'>[]): Set<string> {
  if (!cards.length) return new Set();
  const byId = new Map(cards.map((c) => [c.id, c]));
  const reached = new Set<string>([cards[0].id]);
  const queue = [cards[0].id];
  while (queue.length) {
    const card = byId.get(queue.shift() as string);
    for (const term of card?.terms ?? []) {
      if (term.card && byId.has(term.card) && !reached.has(term.card)) {
        reached.add(term.card);
        queue.push(term.card);
      }
    }
  }
  return new Set([cards[0].id, ...cards.filter((c) => !reached.has(c.id)).map((c) => c.id)]);
}

/** `open` with `id` added (a new set, for Svelte's state), or `open` itself when it already holds it. */
export function withOpened(open: ReadonlySet<string>, id: string | null | undefined): ReadonlySet<string> {
  if (!id || open.has(id)) return open;
  return new Set([...open, id]);
}
