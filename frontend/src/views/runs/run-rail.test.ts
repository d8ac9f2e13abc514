import { describe, expect, it } from 'vitest';
import { chooseRun, describeEvaluation, describeRun, formatAccuracy, moveCursor } from './run-rail';

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
  it('shows the stored held-out accuracy before → after, formatted', () => {
    const line = describeRun({
      id: 'ppo', steps: 120, last_step: 120, live: false,
      header: { format: 'unipo-run/1', name: 'ppo', status: 'finished', algorithm: { name: 'ppo', hparams: {} },
        task: { name: 'addition' }, model: { name: 'tiny' }, seed: 0, config: {},
        evaluation: { split: 'eval', prompts: 1000, before: 0.523, after: 0.645 } },
    });
    expect(line.evaluation).toMatchObject({ text: '52.3% → 64.5%', detail: '1,000 held-out prompts' });
    expect(line.evaluation!.title).toContain('before training 52.3%');
  });
  it('says what is missing instead of inventing it', () => {
    expect(describeEvaluation({ split: 'eval', prompts: 200, before: 0.5, after: null })!.text).toBe('50.0% → …');
    expect(describeEvaluation({ split: 'train', prompts: 1, before: 0.25, after: 1 })).toMatchObject({ text: '25.0% → 100.0%', detail: '1 “train” prompt' });
    expect(describeEvaluation({ split: 'eval', prompts: 0, before: null, after: null })).toBeNull();
    expect(describeEvaluation(undefined)).toBeNull();
    expect(describeEvaluation([1, 2])).toBeNull();
    expect(formatAccuracy(37.5)).toBe('37.5'); // not a fraction: shown as logged
    expect(formatAccuracy(Number.NaN)).toBeNull();
  });
});
