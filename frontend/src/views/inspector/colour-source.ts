// Which logged column colours the tokens, and with which scale. Picks values out of the payload;
// the only transform is exp(logprob) → probability, a display change of units.
import {
  CLIP_CATEGORIES,
  categoricalScale,
  divergingScale,
  sequentialScale,
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

export const COLOUR_SOURCE_INFO: ColourSourceInfo[] = [
  { source: 'token_objective', label: 'Token objective', description: 'o = surrogate − KL penalty + entropy bonus: red tokens are pushed down, blue pushed up.' },
  { source: 'advantage', label: 'Advantage', description: 'How much better than expected the response (or token) was.' },
  { source: 'ratio', label: 'Ratio', description: 'Importance ratio π/π_old used in the objective; white = 1 (policy unchanged).' },
  { source: 'kl', label: 'KL', description: 'Per-token KL estimate against the reference model.' },
  { source: 'entropy', label: 'Entropy', description: 'Entropy of the policy at this token: high = the model hesitated (a "forking" token).' },
  { source: 'probability', label: 'Probability', description: 'Probability the policy gave this token when it was sampled, exp(logprob).' },
  { source: 'clip', label: 'Clip state', description: 'Whether the ratio was clipped below (1 − ε) or above (1 + ε): the gradient is cut there.' },
  { source: 'weight', label: 'Aggregation weight', description: 'The token\'s weight in the step loss (e.g. 1/(N·|o_i|)); 0 for tokens not selected.' },
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
      return sequentialScale(values);
    case 'clip':
      return categoricalScale(CLIP_CATEGORIES);
    case 'ratio':
      return divergingScale(values, 2, 98, 1);
    default:
      return divergingScale(values);
  }
}

/** The token columns a source is read from (any one of them suffices); by default its own name. */
const SOURCE_COLUMNS: Partial<Record<ColourSource, string[]>> = {
  probability: ['logprob'],
  clip: ['clipped_low', 'clipped_high'],
};

/** Which colour sources this step can show: exactly those colourValues does not answer null for,
 * decided from which columns the payload has, without building every source's values. */
export function availableSources(step: StepPayload): ColourSource[] {
  return COLOUR_SOURCE_INFO.map((c) => c.source).filter((s) =>
    (SOURCE_COLUMNS[s] ?? [s]).some((name) => name !== 'offsets' && Boolean(step.tokens[name])),
  );
}
