// Where each beat happens on the real views: the elements its arrows point at (the reference
// drew arrows across panes) and the explainer card it brings into view. Selectors of elements the
// views already render; layout only, no data.
import type { BeatId } from './beats';

export interface BeatTargets {
  /** CSS selectors, in order; each beat points at the first visible match of each. */
  selectors: string[];
  /** Explainer card brought into view and highlighted at this beat (card id), if any. */
  card: string | null;
}

const INSPECTOR = '[data-testid=step-inspector]';

export const BEAT_TARGETS: Record<BeatId, BeatTargets> = {
  prompts: { selectors: ['[data-testid=radial-chart] .selected-rule', `${INSPECTOR} .group .prompt`], card: null },
  responses: { selectors: [`${INSPECTOR} article.response .tokens`], card: null },
  rewards: { selectors: [`${INSPECTOR} article.response .reward`, '[data-card=advantage]'], card: 'advantage' },
  objectives: { selectors: [`${INSPECTOR} article.response .tok`, '[data-card=token_objective]'], card: 'token_objective' },
  aggregation: { selectors: ['[data-card=aggregation]'], card: 'aggregation' },
  update: { selectors: ['[data-testid=learning-after]', '[data-card=grad_coef]'], card: 'grad_coef' },
};
