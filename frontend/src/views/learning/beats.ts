// Learning mode: one update told in six beats on the step's real data. The state machine is pure
// so tests can assert exactly what is on screen at each beat — in particular that nothing from a
// later beat (rewards before they are "computed", the update before the loss) leaks early.
import type { StepPayload } from '../../lib/types';
import { responseCount } from '../explainer/term-values';
import { tokenPaint, type TokenPaint } from '../inspector/colour-source';

export const BEAT_IDS = ['prompts', 'responses', 'rewards', 'objectives', 'aggregation', 'update'] as const;
export type BeatId = (typeof BEAT_IDS)[number];
export const LAST_BEAT = BEAT_IDS.length - 1;

export const BEAT_TITLES: Record<BeatId, string> = {
  prompts: 'Prompts',
  responses: 'Sampled responses',
  rewards: 'Rewards',
  objectives: 'Token objectives',
  aggregation: 'Aggregation into one step objective',
  update: 'Parameter update',
};

export interface BeatState {
  beat: number;
  playing: boolean;
}

export type BeatAction =
  | { type: 'play' }
  | { type: 'pause' }
  | { type: 'toggle' }
  | { type: 'next' }
  | { type: 'prev' }
  | { type: 'tick' }
  | { type: 'restart' }
  | { type: 'goto'; beat: number };

export const INITIAL_BEAT_STATE: BeatState = { beat: 0, playing: false };

const clampBeat = (beat: number) => Math.min(LAST_BEAT, Math.max(0, Math.trunc(beat)));

export function beatReducer(state: BeatState, action: BeatAction): BeatState {
  switch (action.type) {
    case 'play':
      // Playing from the last beat starts over, as a video player would.
      return { beat: state.beat >= LAST_BEAT ? 0 : state.beat, playing: true };
    case 'pause':
      return { ...state, playing: false };
    case 'toggle':
      return beatReducer(state, { type: state.playing ? 'pause' : 'play' });
    case 'next':
      return { beat: clampBeat(state.beat + 1), playing: false };
    case 'prev':
      return { beat: clampBeat(state.beat - 1), playing: false };
    case 'tick': {
      // The timer's advance: only while playing, and playback stops on the last beat.
      if (!state.playing) return state;
      const beat = clampBeat(state.beat + 1);
      return { beat, playing: beat < LAST_BEAT };
    }
    case 'restart':
      return { beat: 0, playing: false };
    case 'goto':
      return { beat: clampBeat(action.beat), playing: false };
  }
}

/** Which parts of the step are on screen at a beat: a part appears at its own beat and stays. */
export function visibleParts(beat: number): Record<BeatId, boolean> {
  const current = clampBeat(beat);
  return Object.fromEntries(BEAT_IDS.map((id, index) => [id, index <= current])) as Record<BeatId, boolean>;
}

// ---- the step's data, revealed beat by beat ----

export interface LearningResponse {
  index: number;
  text: string | null;
  length: number | null;
  truncated: boolean | null;
  reward: number | null;
}

export interface LearningGroup {
  prompt: number;
  promptText: string | null;
  responses: LearningResponse[];
}

export interface BeatView {
  beat: BeatId;
  groups: LearningGroup[];
  /** Per-token stored push g (or objective, for runs without g), shown from the 'objectives' beat on. */
  showTokenObjectives: boolean;
  /** Which column paints the tokens once they are shown: g, or the objective as a fallback. */
  paint: TokenPaint;
  /** Per-token stored aggregation weight, shown from the 'aggregation' beat on. */
  showWeights: boolean;
  /** Stored step metrics shown at this beat (loss from 'aggregation', the update's from 'update'). */
  metrics: Record<string, number | null>;
}

// policy_loss is −J; loss adds the critic's value loss when the algorithm has one (PPO).
const LOSS_METRICS = ['policy_loss', 'loss'];
const UPDATE_METRICS = ['grad_norm', 'lr', 'learning_rate', 'policy_loss', 'loss'];

function column<T>(step: StepPayload, name: string): T[] | null {
  const c = step.responses[name];
  return Array.isArray(c) ? (c as T[]) : null;
}

function pickMetrics(step: StepPayload, names: string[]): Record<string, number | null> {
  const picked: Record<string, number | null> = {};
  for (const name of names) if (Object.hasOwn(step.metrics, name)) picked[name] = step.metrics[name];
  return picked;
}

/** The step as the learner may see it at `beat`: later data is not merely hidden, it is absent. */
export function beatView(step: StepPayload, beat: number): BeatView {
  const visible = visibleParts(beat);
  const prompts = column<number>(step, 'prompt') ?? [];
  const promptTexts = column<string>(step, 'prompt_text');
  const texts = column<string>(step, 'response_text');
  const lengths = column<number>(step, 'response_length');
  const truncated = column<boolean | number>(step, 'truncated');
  const rewards = column<number>(step, 'reward');
  const responseTotal = responseCount(step);

  const groups = new Map<number, LearningGroup>();
  for (let i = 0; i < responseTotal; i++) {
    const prompt = prompts[i] ?? i;
    let group = groups.get(prompt);
    if (!group) {
      group = { prompt, promptText: promptTexts?.[i] ?? null, responses: [] };
      groups.set(prompt, group);
    }
    if (!visible.responses) continue;
    group.responses.push({
      index: i,
      text: texts?.[i] ?? null,
      length: lengths?.[i] ?? null,
      truncated: truncated ? Boolean(truncated[i]) : null,
      reward: visible.rewards ? (rewards?.[i] ?? null) : null,
    });
  }

  let metrics: Record<string, number | null> = {};
  if (visible.update) metrics = pickMetrics(step, UPDATE_METRICS);
  else if (visible.aggregation) metrics = pickMetrics(step, LOSS_METRICS);

  const id = BEAT_IDS[clampBeat(beat)];
  return {
    beat: id,
    groups: [...groups.values()].sort((a, b) => a.prompt - b.prompt),
    showTokenObjectives: visible.objectives,
    paint: tokenPaint([step]),
    showWeights: visible.aggregation,
    metrics,
  };
}

/** Plain-language narration of a beat, built only from what that beat's view contains. */
export function narration(view: BeatView, algorithmName: string): string {
  const responses = view.groups.reduce((n, g) => n + g.responses.length, 0);
  switch (view.beat) {
    case 'prompts':
      return `This update starts from ${view.groups.length} prompt${view.groups.length === 1 ? '' : 's'}. ` +
        'The policy will answer each one several times; the answers to one prompt form a group.';
    case 'responses':
      return `The current policy sampled ${responses} responses, token by token. ` +
        'Nothing has been scored yet: these are just what the model wrote.';
    case 'rewards':
      return 'The task\'s verifier scores every response with one number, its reward. ' +
        'Within a group, better-than-average responses will be pushed up and worse ones down.';
    case 'objectives':
      return `${algorithmName} turns each reward into a per-token objective (ratio × advantage, clipped, ` +
        'minus any KL penalty). ' +
        (view.paint.note === null
          ? 'Its gradient gives every token a push g on its log-probability: blue tokens will be made more likely, ' +
            'red ones less likely, white ones are left alone.'
          : 'The colours show that objective; this run stores no push g, and the objective\'s sign is not ' +
            'the direction a token is pushed.');
    case 'aggregation':
      return 'Every token\'s objective is multiplied by its aggregation weight and summed into one number, ' +
        'the step objective J; the optimizer minimises loss = −J.';
    case 'update':
      return 'Back-propagating the loss gives one gradient for all parameters; it is clipped to a maximum norm ' +
        'and scaled by the learning rate. The policy that samples the next step is the updated one.';
  }
}
