import { describe, expect, it } from 'vitest';
import {
  cardDepths,
  cardLinks,
  defaultLayout,
  layoutBounds,
  layoutStorageKey,
  linkPath,
  loadLayout,
  loadOverrides,
  mergePositions,
  restoreLayout,
  saveLayout,
  DEFAULT_CARD_SIZE,
  cardWidthFor,
  initialView,
} from './card-layout';
import { makeFormula } from './test-fixtures';

function memoryStorage() {
  const data = new Map<string, string>();
  return {
    data,
    getItem: (k: string) => data.get(k) ?? null,
    setItem: (k: string, v: string) => void data.set(k, v),
    removeItem: (k: string) => void data.delete(k),
  };
}

describe('card graph', () => {
  const cards = makeFormula('grpo').cards;

  it('links a card to the cards its terms point at, once per pair, never to itself', () => {
    expect(cardLinks(cards)).toEqual([
      { from: 'aggregation', to: 'token_objective', termKey: 'token_objective' },
      { from: 'token_objective', to: 'ratio', termKey: 'ratio' },
      { from: 'token_objective', to: 'advantage', termKey: 'advantage' },
    ]);
  });

  it('puts the step objective on top and explaining cards below', () => {
    const depths = cardDepths(cards);
    expect(depths.get('aggregation')).toBe(0);
    expect(depths.get('token_objective')).toBe(1);
    expect(depths.get('ratio')).toBe(2);
    expect(depths.get('advantage')).toBe(2);
    expect(depths.get('kl')).toBe(0); // not linked from anywhere: a root of its own
  });

  it('survives cycles', () => {
    const cyclic = [
      { id: 'a', variant: '', title: '', latex: '', explanation: '', terms: [{ key: 'b', latex: '', field: null, card: 'b', description: '' }] },
      { id: 'b', variant: '', title: '', latex: '', explanation: '', terms: [{ key: 'a', latex: '', field: null, card: 'a', description: '' }] },
    ];
    const depths = cardDepths(cyclic);
    expect(depths.size).toBe(2);
  });
});

describe('defaultLayout', () => {
  it('gives every card a distinct, non-overlapping place', () => {
    const cards = makeFormula('grpo').cards;
    const positions = defaultLayout(cards);
    expect(Object.keys(positions).sort()).toEqual(cards.map((c) => c.id).sort());
    const boxes = Object.values(positions);
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const overlapX = Math.abs(boxes[i].x - boxes[j].x) < DEFAULT_CARD_SIZE.width;
        const overlapY = Math.abs(boxes[i].y - boxes[j].y) < DEFAULT_CARD_SIZE.height;
        expect(overlapX && overlapY).toBe(false);
      }
    }
    expect(positions.token_objective.y).toBeGreaterThan(positions.aggregation.y);
    expect(positions.ratio.y).toBeGreaterThan(positions.token_objective.y);
    expect(positions.ratio.y).toBe(positions.advantage.y);
  });

  it('wraps a row that is wider than the panel into one column', () => {
    const cards = makeFormula('grpo').cards;
    const positions = defaultLayout(cards, {}, DEFAULT_CARD_SIZE.width);
    const xs = new Set(Object.values(positions).map((p) => p.x));
    expect(xs.size).toBe(1);
    const ys = Object.values(positions).map((p) => p.y);
    expect(new Set(ys).size).toBe(cards.length);
    expect(positions.advantage.y).toBeGreaterThan(positions.ratio.y);
  });

  it('sizes cards to the panel', () => {
    expect(cardWidthFor(1000)).toBe(420);
    expect(cardWidthFor(380)).toBe(348);
    expect(cardWidthFor(100)).toBe(300);
  });

  it('has bounds covering all cards', () => {
    const b = layoutBounds({ a: { x: 0, y: 0 }, b: { x: 100, y: 300 } });
    expect(b).toEqual({ x: 0, y: 0, width: 100 + DEFAULT_CARD_SIZE.width, height: 300 + DEFAULT_CARD_SIZE.height });
  });
});

describe('initialView', () => {
  it('fits the whole canvas when that stays readable', () => {
    expect(initialView({ x: 0, y: 0, width: 400, height: 300 }, { width: 800, height: 600 })).toEqual({ k: 1, x: 200, y: 150 });
  });

  it('otherwise starts at the top at a readable zoom', () => {
    const view = initialView({ x: 0, y: 0, width: 400, height: 3000 }, { width: 432, height: 600 });
    expect(view).toEqual({ k: 1, x: 16, y: 16 });
  });
});

describe('linkPath', () => {
  it('runs from the bottom of the parent to the top of the child', () => {
    const size = { width: 100, height: 50 };
    expect(linkPath({ x: 0, y: 0 }, size, { x: 200, y: 100 }, size)).toBe('M50,50 C50,75 250,75 250,100');
  });
});

describe('layout persistence', () => {
  const defaults = { aggregation: { x: 0, y: 0 }, ratio: { x: 10, y: 300 } };

  it('round-trips per algorithm', () => {
    const storage = memoryStorage();
    saveLayout(storage, 'grpo', { aggregation: { x: 5, y: 6 }, ratio: { x: 7, y: 8 } });
    expect(loadLayout(storage, 'grpo', defaults)).toEqual({ aggregation: { x: 5, y: 6 }, ratio: { x: 7, y: 8 } });
    expect(loadLayout(storage, 'dapo', defaults)).toEqual(defaults);
    expect([...storage.data.keys()]).toEqual([layoutStorageKey('grpo')]);
  });

  it('ignores corrupt, unknown or non-numeric entries', () => {
    expect(restoreLayout('not json', defaults)).toEqual(defaults);
    expect(restoreLayout('null', defaults)).toEqual(defaults);
    expect(restoreLayout('[1,2]', defaults)).toEqual(defaults);
    expect(
      restoreLayout(JSON.stringify({ ratio: { x: 'a', y: 1 }, aggregation: { x: 1, y: 2 }, ghost: { x: 1, y: 1 } }), defaults),
    ).toEqual({ aggregation: { x: 1, y: 2 }, ratio: { x: 10, y: 300 } });
  });

  it('keeps overrides of cards that are not on the canvas now, without showing them', () => {
    const storage = memoryStorage();
    saveLayout(storage, 'grpo', { ghost: { x: 1, y: 1 }, ratio: { x: 2, y: 2 } });
    expect(loadOverrides(storage, 'grpo')).toEqual({ ghost: { x: 1, y: 1 }, ratio: { x: 2, y: 2 } });
    expect(mergePositions(defaults, loadOverrides(storage, 'grpo'))).toEqual({ aggregation: { x: 0, y: 0 }, ratio: { x: 2, y: 2 } });
  });

  it('falls back when storage throws', () => {
    const broken = {
      getItem: () => {
        throw new Error('denied');
      },
      setItem: () => {
        throw new Error('denied');
      },
      removeItem: () => {},
    };
    expect(loadLayout(broken, 'grpo', defaults)).toEqual(defaults);
    expect(() => saveLayout(broken, 'grpo', defaults)).not.toThrow();
  });
});
