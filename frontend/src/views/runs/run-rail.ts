// Run rail logic: what each run's line says, and keyboard movement through the list.
import type { RunSummary } from '../../lib/types';

export interface RunLine {
  id: string;
  name: string;
  algorithm: string;
  task: string;
  model: string;
  steps: string;
  live: boolean;
  status: string;
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
