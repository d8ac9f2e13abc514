import { describe, expect, it } from 'vitest';
import { initialOpenCards, withOpened } from './progressive-cards';

const card = (id: string, links: string[]) => ({ id, terms: links.map((to, i) => ({ key: `${id}${i}`, card: to })) as never });

describe('progressive cards', () => {
  // The shape of GRPO's formula: loss → token objective → clip → ratio/advantage; KL from the
  // objective; the gradient coefficient reached by no section.
  const cards = [
    card('aggregation', ['aggregation', 'token_objective']),
    card('token_objective', ['clip', 'kl']),
    card('ratio', ['ratio']),
    card('clip', ['ratio', 'advantage']),
    card('advantage', []),
    card('kl', ['ratio']),
    card('grad_coef', ['aggregation', 'ratio']),
  ];

  it('opens the loss card and the cards no section leads to', () => {
    expect([...initialOpenCards(cards)].sort()).toEqual(['aggregation', 'grad_coef']);
  });

  it('opens a card once, keeping the set when it is already open', () => {
    const open = initialOpenCards(cards);
    const more = withOpened(open, 'clip');
    expect(more.has('clip')).toBe(true);
    expect(open.has('clip')).toBe(false);
    expect(withOpened(more, 'clip')).toBe(more);
    expect(withOpened(more, null)).toBe(more);
  });

  it('opens nothing for no cards', () => {
    expect(initialOpenCards([]).size).toBe(0);
  });
});
