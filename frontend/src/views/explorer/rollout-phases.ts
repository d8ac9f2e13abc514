// Rollout phases: consecutive updates that reused one batch of generated responses (several
// epochs × mini-batches of PPO-style training). Read straight from the run's steps index.
import type { StepIndexEntry } from '../../lib/types';

export interface RolloutPhase {
  rollout: number;
  firstStep: number;
  lastStep: number;
  updates: number;
  epochs: number;
  minibatches: number;
}

/** Groups the (ascending) steps index into runs of equal `rollout`; steps without one are skipped. */
export function rolloutPhases(steps: StepIndexEntry[]): RolloutPhase[] {
  const phases: RolloutPhase[] = [];
  let current: RolloutPhase | null = null;
  let epochs = new Set<number>();
  let minibatches = new Set<number>();
  for (const entry of steps) {
    if (entry.rollout === null || entry.rollout === undefined) continue;
    if (!current || current.rollout !== entry.rollout) {
      current = { rollout: entry.rollout, firstStep: entry.step, lastStep: entry.step, updates: 0, epochs: 0, minibatches: 0 };
      epochs = new Set();
      minibatches = new Set();
      phases.push(current);
    }
    current.lastStep = entry.step;
    current.updates += 1;
    if (entry.epoch !== null && entry.epoch !== undefined) epochs.add(entry.epoch);
    if (entry.minibatch !== null && entry.minibatch !== undefined) minibatches.add(entry.minibatch);
    current.epochs = epochs.size;
    current.minibatches = minibatches.size;
  }
  return phases;
}

/** One phase's tooltip line, e.g. "Rollout 3 · steps 7–9 · 3 updates (1 epoch × 3 mini-batches)". */
export function describePhase(phase: RolloutPhase): string {
  const steps = phase.firstStep === phase.lastStep ? `step ${phase.firstStep}` : `steps ${phase.firstStep}–${phase.lastStep}`;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : word.endsWith('h') ? 'es' : 's'}`;
  const schedule = phase.epochs || phase.minibatches
    ? ` (${plural(Math.max(1, phase.epochs), 'epoch')} × ${plural(Math.max(1, phase.minibatches), 'mini-batch')})`
    : '';
  return `Rollout ${phase.rollout} · ${steps} · ${plural(phase.updates, 'update')} on the same responses${schedule}`;
}

/** True when some rollout fed more than one update: only then is the band worth drawing. */
export function hasReusedRollouts(phases: RolloutPhase[]): boolean {
  return phases.some((p) => p.updates > 1);
}
