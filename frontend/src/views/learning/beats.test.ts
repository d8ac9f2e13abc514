import { describe, expect, it } from 'vitest';
import { BEAT_IDS, INITIAL_BEAT_STATE, LAST_BEAT, beatReducer, beatView, narration, visibleParts } from './beats';
import type { BeatAction, BeatState } from './beats';
import { makeStep } from '../explainer/test-fixtures';

const run = (actions: BeatAction[], from: BeatState = INITIAL_BEAT_STATE) => actions.reduce(beatReducer, from);

describe('beat state machine', () => {
  it('has six beats in the order of one update', () => {
    expect(BEAT_IDS).toEqual(['prompts', 'responses', 'rewards', 'objectives', 'aggregation', 'update']);
  });

  it('plays through every beat and stops on the last', () => {
    let state = beatReducer(INITIAL_BEAT_STATE, { type: 'play' });
    const seen = [state.beat];
    for (let i = 0; i < 10; i++) {
      state = beatReducer(state, { type: 'tick' });
      seen.push(state.beat);
    }
    expect(seen.slice(0, 6)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(state).toEqual({ beat: LAST_BEAT, playing: false });
  });

  it('ignores ticks while paused; step controls pause', () => {
    expect(run([{ type: 'tick' }])).toEqual(INITIAL_BEAT_STATE);
    expect(run([{ type: 'play' }, { type: 'next' }])).toEqual({ beat: 1, playing: false });
    expect(run([{ type: 'play' }, { type: 'tick' }, { type: 'pause' }, { type: 'tick' }])).toEqual({ beat: 1, playing: false });
    expect(run([{ type: 'prev' }])).toEqual(INITIAL_BEAT_STATE);
    expect(run([{ type: 'goto', beat: 99 }]).beat).toBe(LAST_BEAT);
    expect(run([{ type: 'toggle' }]).playing).toBe(true);
    expect(run([{ type: 'toggle' }, { type: 'toggle' }]).playing).toBe(false);
  });

  it('restarts from the beginning when play is pressed at the end', () => {
    expect(run([{ type: 'goto', beat: LAST_BEAT }, { type: 'play' }])).toEqual({ beat: 0, playing: true });
    expect(run([{ type: 'goto', beat: 3 }, { type: 'restart' }])).toEqual(INITIAL_BEAT_STATE);
  });

  it('shows each part from its own beat on, never before', () => {
    expect(visibleParts(0)).toEqual({ prompts: true, responses: false, rewards: false, objectives: false, aggregation: false, update: false });
    expect(visibleParts(3)).toEqual({ prompts: true, responses: true, rewards: true, objectives: true, aggregation: false, update: false });
    expect(Object.values(visibleParts(5)).every(Boolean)).toBe(true);
  });
});

describe('beatView: what is on screen', () => {
  const step = makeStep();

  it('beat 1 shows prompts only', () => {
    const view = beatView(step, 0);
    expect(view.groups.map((g) => [g.prompt, g.promptText])).toEqual([[0, '2+2='], [1, '3+5=']]);
    expect(view.groups.every((g) => g.responses.length === 0)).toBe(true);
    expect(view.metrics).toEqual({});
    expect(view.showTokenObjectives).toBe(false);
  });

  it('beat 2 shows responses but not their rewards', () => {
    const view = beatView(step, 1);
    expect(view.groups[0].responses.map((r) => r.text)).toEqual(['4', '5!']);
    expect(view.groups.flatMap((g) => g.responses).every((r) => r.reward === null)).toBe(true);
  });

  it('beat 3 adds the stored rewards', () => {
    expect(beatView(step, 2).groups.flatMap((g) => g.responses.map((r) => r.reward))).toEqual([1, 0, 1]);
    expect(beatView(step, 2).showTokenObjectives).toBe(false);
  });

  it('beat 4 paints token objectives, beat 5 adds weights and the loss, beat 6 the update', () => {
    expect(beatView(step, 3).showTokenObjectives).toBe(true);
    expect(beatView(step, 3).showWeights).toBe(false);
    expect(beatView(step, 3).metrics).toEqual({});
    expect(beatView(step, 4).showWeights).toBe(true);
    expect(beatView(step, 4).metrics).toEqual({ loss: -0.0125 });
    expect(beatView(step, 5).metrics).toEqual({ grad_norm: 0.8, lr: 1e-5, loss: -0.0125 });
  });

  it('shows the policy loss (−J) apart from a total that includes a critic loss', () => {
    const ppoStep = { ...step, metrics: { ...step.metrics, policy_loss: -0.02, loss: 0.31 } };
    expect(beatView(ppoStep, 4).metrics).toEqual({ policy_loss: -0.02, loss: 0.31 });
  });

  it('narrates each beat from its own data', () => {
    expect(narration(beatView(step, 0), 'grpo')).toContain('2 prompts');
    expect(narration(beatView(step, 1), 'grpo')).toContain('3 responses');
    expect(narration(beatView(step, 3), 'grpo')).toContain('grpo');
  });

  it('paints by the push g when the step stores it, else by the objective and says so', () => {
    const old = beatView(step, 3);
    expect(old.paint).toMatchObject({ column: 'token_objective', note: 'no g stored: colouring by objective' });
    expect(narration(old, 'grpo')).toContain('stores no push g');
    expect(narration(old, 'grpo')).not.toContain('Blue tokens');
    const withG = { ...step, tokens: { ...step.tokens, grad_coef: [0.2, -0.1, -0.1, 0] } };
    const view = beatView(withG, 3);
    expect(view.paint).toMatchObject({ column: 'grad_coef', note: null });
    expect(narration(view, 'grpo')).toContain('push g');
    expect(narration(view, 'grpo')).toContain('blue tokens will be made more likely');
  });
});
