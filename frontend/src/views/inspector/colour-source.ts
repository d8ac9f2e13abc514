// Which logged column colours the tokens, and with which scale. Picks values out of the payload;
// the only transform is exp(logprob) → probability, a display change of units.
import {
  CLIP_CATEGORIES,
  categoricalScale,
  divergingScale,
  sequentialScale,
  signAwareScale,
  type ColourScale,
} from '../../lib/colour-scale';
import type { ColourSource } from '../../lib/selection';
import type { StepPayload } from '../../lib/types';
import { numericTokenColumn } from './step-slices';

export interface ColourSourceInfo {
  source: ColourSource;
  label: string;
  description: string;
}

/** The stored per-token gradient coefficient g = ∂(−loss)/∂ℓ: the push on the token's log-prob ℓ. */
export const PUSH_COLUMN = 'grad_coef';
export const OBJECTIVE_COLUMN = 'token_objective';
/** ‖c_t‖ per token (engine --attribution exact). */
export const CONTRIBUTION_COLUMN = 'grad_contribution';
/** Said wherever a view wanted g and paints the objective instead (runs stored before g existed). */
export const NO_G_NOTE = 'no g stored: colouring by objective';

export const COLOUR_SOURCE_INFO: ColourSourceInfo[] = [
  {
    source: 'grad_coef',
    label: 'Push on log-prob (g)',
    description: 'g = ∂(−loss)/∂ℓ: how the update moves this token\'s log-probability ℓ; blue pushed up, red pushed down, white untouched.',
  },
  {
    source: 'token_objective',
    label: 'Token objective',
    description: 'o = the per-token objective the loss aggregates; its sign is not the push direction (see g).',
  },
  { source: 'advantage', label: 'Advantage', description: 'How much better than expected the response (or token) was.' },
  { source: 'ratio', label: 'Ratio', description: 'Importance ratio π/π_old used in the objective; white = 1 (policy unchanged).' },
  { source: 'kl', label: 'KL', description: 'Per-token KL estimate against the reference model.' },
  { source: 'entropy', label: 'Entropy', description: 'Entropy of the policy at this token: high = the model hesitated (a "forking" token).' },
  { source: 'probability', label: 'Probability', description: 'Probability the policy gave this token when it was sampled, exp(logprob).' },
  { source: 'clip', label: 'Clip state', description: 'Whether the ratio was clipped below (1 − ε) or above (1 + ε): the gradient is cut there.' },
  { source: 'weight', label: 'Aggregation weight', description: 'The token\'s weight in the step loss (e.g. 1/(N·|o_i|)); 0 for tokens not selected.' },
  // Added with the analyses (views/analyses): the exact per-token gradient contribution.
  {
    source: 'contribution',
    label: 'Gradient contribution',
    description: '‖c‖ = |g|·‖∇θℓ‖: how much this token\'s term moved the weights in this update (stored with --attribution exact); dark = the tokens behind the gradient.',
  },
];

export function colourSourceInfo(source: ColourSource): ColourSourceInfo {
  return COLOUR_SOURCE_INFO.find((c) => c.source === source) ?? COLOUR_SOURCE_INFO[0];
}

/** Flat per-token values for a colour source, or null when the step does not log what it needs. */
export function colourValues(step: StepPayload, source: ColourSource): (number | null)[] | null {
  switch (source) {
    case 'probability': {
      const logprob = numericTokenColumn(step, 'logprob');
      return logprob ? logprob.map((v) => (v === null ? null : Math.exp(v))) : null;
    }
    case 'contribution':
      return numericTokenColumn(step, CONTRIBUTION_COLUMN);
    case 'clip': {
      const low = numericTokenColumn(step, 'clipped_low');
      const high = numericTokenColumn(step, 'clipped_high');
      if (!low && !high) return null;
      const n = (low ?? high)!.length;
      return Array.from({ length: n }, (_, i) => (high?.[i] ? 1 : low?.[i] ? -1 : 0));
    }
    default:
      return numericTokenColumn(step, source);
  }
}

/** The scale for a source over the whole step's values (so every page shares one legend). */
export function colourScaleFor(source: ColourSource, values: (number | null)[]): ColourScale {
  switch (source) {
    case 'probability':
      return sequentialScale(values, [0, 1]);
    case 'entropy':
    case 'weight':
    case 'contribution':
      return sequentialScale(values);
    case 'clip':
      return categoricalScale(CLIP_CATEGORIES);
    case 'ratio':
      return divergingScale(values, 2, 98, 1);
    case 'kl': // k3/k2 are >= 0: no negative ticks unless the stored values have them (k1)
      return signAwareScale(values);
    case 'grad_coef': // white = untouched (g = 0)
    default:
      return divergingScale(values);
  }
}

/** The token columns a source is read from (any one of them suffices); by default its own name. */
const SOURCE_COLUMNS: Partial<Record<ColourSource, string[]>> = {
  probability: ['logprob'],
  clip: ['clipped_low', 'clipped_high'],
  contribution: [CONTRIBUTION_COLUMN],
};

/** True when the step sends the token column with at least one value in it. */
export function hasTokenColumn(step: StepPayload | null | undefined, name: string): boolean {
  const column = step?.tokens[name];
  return name !== 'offsets' && Array.isArray(column) && column.some((v) => v !== null && v !== undefined);
}

/** Which colour sources this step can show: those whose columns the payload sends with at least
 * one value (a column of nulls would paint nothing), without building every source's values. */
export function availableSources(step: StepPayload): ColourSource[] {
  return COLOUR_SOURCE_INFO.map((c) => c.source).filter((s) =>
    (SOURCE_COLUMNS[s] ?? [s]).some((name) => hasTokenColumn(step, name)),
  );
}

export interface ResolvedColour {
  /** The source actually painted. */
  source: ColourSource;
  /** Why it is not the one asked for, or null when it is. */
  note: string | null;
}

/** The source to paint when `wanted` is asked for and the step can show `available`: g falls
 * back to the objective (older runs), anything else to the first available source. */
export function resolveColourSource(available: ColourSource[], wanted: ColourSource): ResolvedColour {
  if (available.includes(wanted)) return { source: wanted, note: null };
  if (wanted === PUSH_COLUMN && available.includes(OBJECTIVE_COLUMN)) return { source: OBJECTIVE_COLUMN, note: NO_G_NOTE };
  const fallback = available[0];
  if (fallback === undefined) return { source: wanted, note: null };
  return { source: fallback, note: `${colourSourceInfo(wanted).label} not stored: colouring by ${colourSourceInfo(fallback).label}` };
}

/** The legend's label: the painted source, and the fallback note when there is one. */
export function legendLabel(resolved: ResolvedColour): string {
  const label = colourSourceInfo(resolved.source).label;
  return resolved.note ? `${label} (${resolved.note})` : label;
}

export interface TokenPaint {
  /** The token column the strips are painted with. */
  column: typeof PUSH_COLUMN | typeof OBJECTIVE_COLUMN;
  /** Short name of the painted quantity, for legends and tooltips. */
  label: string;
  /** What the colours mean. */
  meaning: string;
  /** NO_G_NOTE when g was wanted but some step lacks it, else null. */
  note: string | null;
}

/** How views outside the inspector (side by side, learning mode, what-if) paint token strips: by
 * g when every given step stores it, else all by the objective, so one shared scale always
 * means one quantity. Steps not loaded yet (null) are not counted. */
export function tokenPaint(steps: (StepPayload | null | undefined)[]): TokenPaint {
  const loaded = steps.filter((s): s is StepPayload => !!s);
  if (loaded.length > 0 && loaded.every((s) => hasTokenColumn(s, PUSH_COLUMN))) {
    return { column: PUSH_COLUMN, label: 'g (push on log-prob)', meaning: 'blue: pushed up, red: pushed down, white: untouched', note: null };
  }
  return {
    column: OBJECTIVE_COLUMN,
    label: 'token objective o',
    meaning: 'its sign is not the push direction',
    note: loaded.length > 0 ? NO_G_NOTE : null,
  };
}
