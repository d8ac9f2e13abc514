// Comparing two algorithms' formulas the way the contract defines it: card by card (id, then
// variant) and, inside a card both have, term by term (key, then latex). The result drives the
// shared / only-in-A / only-in-B marks and the added/removed highlighting of terms.
import type { Formula, FormulaCard, FormulaTerm } from '../../lib/types';

export type CardStatus = 'shared' | 'variant-differs' | 'only-a' | 'only-b';
export type TermStatus = 'same' | 'changed' | 'only-a' | 'only-b';

export interface TermDiff {
  key: string;
  status: TermStatus;
  a?: FormulaTerm;
  b?: FormulaTerm;
}

export interface CardDiff {
  id: string;
  status: CardStatus;
  a?: FormulaCard;
  b?: FormulaCard;
  terms: TermDiff[];
}

export interface FormulaDiff {
  cards: CardDiff[];
  /** True when nothing differs: same cards, variants and terms. */
  identical: boolean;
}

export function diffTerms(a: FormulaTerm[], b: FormulaTerm[]): TermDiff[] {
  const byKeyB = new Map(b.map((t) => [t.key, t]));
  const keysA = new Set(a.map((t) => t.key));
  const diffs: TermDiff[] = a.map((termA) => {
    const termB = byKeyB.get(termA.key);
    if (!termB) return { key: termA.key, status: 'only-a', a: termA };
    const same = termA.latex === termB.latex && termA.field === termB.field;
    return { key: termA.key, status: same ? 'same' : 'changed', a: termA, b: termB };
  });
  for (const termB of b) if (!keysA.has(termB.key)) diffs.push({ key: termB.key, status: 'only-b', b: termB });
  return diffs;
}

/** Cards in A's order, then cards only B has, in B's order. */
export function diffFormulas(a: Formula, b: Formula): FormulaDiff {
  const byIdB = new Map(b.cards.map((c) => [c.id, c]));
  const idsA = new Set(a.cards.map((c) => c.id));
  const cards: CardDiff[] = a.cards.map((cardA) => {
    const cardB = byIdB.get(cardA.id);
    if (!cardB) return { id: cardA.id, status: 'only-a', a: cardA, terms: diffTerms(cardA.terms, []) };
    const terms = diffTerms(cardA.terms, cardB.terms);
    const status: CardStatus = cardA.variant === cardB.variant ? 'shared' : 'variant-differs';
    return { id: cardA.id, status, a: cardA, b: cardB, terms };
  });
  for (const cardB of b.cards) {
    if (!idsA.has(cardB.id)) cards.push({ id: cardB.id, status: 'only-b', b: cardB, terms: diffTerms([], cardB.terms) });
  }
  const identical = cards.every((c) => c.status === 'shared' && c.terms.every((t) => t.status === 'same'));
  return { cards, identical };
}

/** Term keys to highlight on one side's rendering: removed (only on this side) and changed. */
export function highlightedKeys(card: CardDiff, side: 'a' | 'b'): { added: string[]; changed: string[] } {
  const onlyHere = side === 'a' ? 'only-a' : 'only-b';
  return {
    added: card.terms.filter((t) => t.status === onlyHere).map((t) => t.key),
    changed: card.terms.filter((t) => t.status === 'changed').map((t) => t.key),
  };
}

/** Short words for the marks, written for a learner rather than a diff tool. */
export function cardStatusLabel(status: CardStatus, nameA: string, nameB: string): string {
  switch (status) {
    case 'shared':
      return 'same in both';
    case 'variant-differs':
      return 'differs';
    case 'only-a':
      return `only in ${nameA}`;
    case 'only-b':
      return `only in ${nameB}`;
  }
}

/** Whether a card (by id) or one of its terms differs: used to mark the explainer's own cards. */
export function differingCardIds(diff: FormulaDiff): Set<string> {
  return new Set(
    diff.cards.filter((c) => c.status !== 'shared' || c.terms.some((t) => t.status !== 'same')).map((c) => c.id),
  );
}
