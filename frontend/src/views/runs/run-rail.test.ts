import { describe, expect, it } from 'vitest';
import { chooseRun, describeRun, moveCursor } from './run-rail';

describe('run rail', () => {
  it('describes a run from its header', () => {
    const line = describeRun({
      id: 'r1', steps: 1200, last_step: 1200, live: true,
      header: { format: 'unipo-run/1', name: 'grpo-add', status: 'running', algorithm: { name: 'grpo', hparams: {} },
        task: { name: 'addition' }, model: { name: 'tiny' }, seed: 0, config: {} },
    });
    expect(line).toMatchObject({ name: 'grpo-add', algorithm: 'grpo', task: 'addition', model: 'tiny', steps: '1,200 steps', live: true });
  });
  it('moves the cursor with arrows, Home and End, clamped', () => {
    expect(moveCursor('ArrowDown', 0, 3)).toBe(1);
    expect(moveCursor('ArrowDown', 2, 3)).toBe(2);
    expect(moveCursor('ArrowUp', 0, 3)).toBe(0);
    expect(moveCursor('End', 0, 3)).toBe(2);
    expect(moveCursor('x', 0, 3)).toBeNull();
    expect(moveCursor('ArrowDown', 0, 0)).toBeNull();
  });
  it('chooses one run or toggles it in the comparison set', () => {
    expect(chooseRun(['a', 'b'], 'c', false)).toEqual(['c']);
    expect(chooseRun(['a'], 'b', true)).toEqual(['a', 'b']);
    expect(chooseRun(['a', 'b'], 'a', true)).toEqual(['b']);
    expect(chooseRun(['a'], 'a', true)).toEqual(['a']);
  });
});
