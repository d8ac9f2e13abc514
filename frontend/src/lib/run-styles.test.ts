import { lab } from 'd3';
import { describe, expect, it } from 'vitest';
import { assignRunStyles, RUN_DASHES, RUN_PALETTE, runStyle, styleOfSlot, UNASSIGNED_STYLE } from './run-styles';

const SERVER_LIST = ['dapo', 'dr_grpo', 'grpo', 'gspo', 'ppo', 'reinforce'];

function deltaE(a: string, b: string): number {
  const x = lab(a);
  const y = lab(b);
  return Math.hypot(x.l - y.l, x.a - y.a, x.b - y.b);
}

describe('run styles', () => {
  it('gives six runs six different colours, whatever order they are selected in', () => {
    const styles = assignRunStyles(SERVER_LIST);
    const colours = SERVER_LIST.map((id) => runStyle(styles, id).colour);
    expect(new Set(colours).size).toBe(6);
    // The selection order (URL order) does not move a colour.
    const again = assignRunStyles([...SERVER_LIST, 'grpo', 'ppo', 'dapo']);
    for (const id of SERVER_LIST) expect(runStyle(again, id)).toEqual(runStyle(styles, id));
  });

  it('keeps every run\u2019s style when a new run appears or one is deselected', () => {
    const first = assignRunStyles(SERVER_LIST);
    // A live run sorted first in the server's list takes a free slot; nobody else moves.
    const grown = assignRunStyles(['a-new-run', ...SERVER_LIST], first);
    for (const id of SERVER_LIST) expect(runStyle(grown, id)).toEqual(runStyle(first, id));
    expect(runStyle(grown, 'a-new-run').slot).toBe(6);
    // Styles never depend on which runs are selected: the map is keyed by id.
    expect(runStyle(assignRunStyles(['ppo'], first), 'ppo')).toEqual(runStyle(first, 'ppo'));
  });

  it('keeps at least eight colours clearly apart (CIELAB \u0394E \u2265 20)', () => {
    expect(RUN_PALETTE.length).toBeGreaterThanOrEqual(8);
    for (let i = 0; i < RUN_PALETTE.length; i++) {
      for (let j = i + 1; j < RUN_PALETTE.length; j++) {
        expect(deltaE(RUN_PALETTE[i], RUN_PALETTE[j]), `${RUN_PALETTE[i]} vs ${RUN_PALETTE[j]}`).toBeGreaterThanOrEqual(20);
      }
    }
  });

  it('gives the first twenty slots different colour + dash pairs', () => {
    const pairs = Array.from({ length: 20 }, (_, slot) => styleOfSlot(slot)).map((s) => `${s.colour}|${s.dash}`);
    expect(new Set(pairs).size).toBe(20);
    expect(styleOfSlot(0).dash).toBe('');
    expect(RUN_DASHES).toContain(styleOfSlot(1).dash);
  });

  it('answers a neutral style for an id it has not seen', () => {
    expect(runStyle(new Map(), 'unknown')).toBe(UNASSIGNED_STYLE);
  });
});
