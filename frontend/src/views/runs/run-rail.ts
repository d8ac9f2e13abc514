// Run rail logic: what each run's line says, and keyboard movement through the list.
import type { Json, RunSummary } from '../../lib/types';

export interface RunLine {
  id: string;
  name: string;
  algorithm: string;
  task: string;
  model: string;
  steps: string;
  live: boolean;
  status: string;
  /** Held-out accuracy before → after training (header.evaluation), formatted; null when absent. */
  evaluation: RunEvaluation | null;
}

export interface RunEvaluation {
  /** e.g. "52.3% → 64.5%"; "52.3% → …" while the run has not been evaluated after training. */
  text: string;
  /** e.g. "1,000 held-out prompts". */
  detail: string;
  /** Hover text naming the stored fields. */
  title: string;
}

/**
 * A stored accuracy as shown: a fraction in [0, 1] as a percentage with one decimal (52.3%),
 * anything else as logged. Formatting only; the two numbers shown are the header's own.
 */
export function formatAccuracy(value: Json | undefined): string | null {
  if (typeof value !== 'number' || !Number.isFinite(value)) return null;
  if (value >= 0 && value <= 1) return `${(value * 100).toFixed(1)}%`;
  return String(value);
}

/** The header's `evaluation: {split, prompts, before, after}` as the rail shows it. */
export function describeEvaluation(evaluation: Json | undefined): RunEvaluation | null {
  if (!evaluation || typeof evaluation !== 'object' || Array.isArray(evaluation)) return null;
  const before = formatAccuracy(evaluation.before);
  const after = formatAccuracy(evaluation.after);
  if (before === null && after === null) return null;
  const prompts = typeof evaluation.prompts === 'number' && Number.isFinite(evaluation.prompts) ? evaluation.prompts : null;
  const split = typeof evaluation.split === 'string' && evaluation.split.length ? evaluation.split : null;
  const heldOut = split === null || ['eval', 'test', 'validation', 'held-out', 'heldout'].includes(split.toLowerCase());
  const what = heldOut ? 'held-out' : `“${split}”`;
  const detail = prompts !== null ? `${prompts.toLocaleString('en-US')} ${what} prompt${prompts === 1 ? '' : 's'}` : `${what} prompts`;
  return {
    text: `${before ?? '—'} → ${after ?? '…'}`,
    detail,
    title: `Accuracy on ${detail}${split ? ` (split “${split}”)` : ''}: before training ${before ?? 'not stored'}, after training ${after ?? 'not stored yet'} (header.evaluation)`,
  };
}

function text(value: unknown, fallback = '—'): string {
  return typeof value === 'string' && value.length ? value : typeof value === 'number' ? String(value) : fallback;
}

export function describeRun(run: RunSummary): RunLine {
  const h = run.header ?? ({} as RunSummary['header']);
  return {
    id: run.id,
    name: text(h.name, run.id),
    algorithm: text(h.algorithm?.name),
    task: text(h.task?.name),
    model: text(h.model?.name),
    steps: `${run.steps.toLocaleString('en-US')} step${run.steps === 1 ? '' : 's'}`,
    live: run.live,
    status: text(h.status, 'unknown'),
    evaluation: describeEvaluation(h.evaluation),
  };
}

/** Next cursor index for a navigation key, or null when the key is not a navigation key. */
export function moveCursor(key: string, cursor: number, count: number): number | null {
  if (count === 0) return null;
  switch (key) {
    case 'ArrowDown':
      return Math.min(count - 1, cursor + 1);
    case 'ArrowUp':
      return Math.max(0, cursor - 1);
    case 'Home':
      return 0;
    case 'End':
      return count - 1;
    default:
      return null;
  }
}

/**
 * New run selection after choosing `id`. Plain choice opens only that run; adding (Ctrl/⌘/Shift
 * click, or the checkbox) toggles it in the comparison set, keeping at least one run.
 */
export function chooseRun(selected: string[], id: string, adding: boolean): string[] {
  if (!adding) return [id];
  if (selected.includes(id)) return selected.length > 1 ? selected.filter((s) => s !== id) : selected;
  return [...selected, id];
}
