// Side-by-side steps: runs trained on identical data see the same prompts in the same order
// (architecture invariant 4), so their prompt groups can be lined up. Groups are matched by prompt
// text when the steps store it (robust to a different group numbering), else by prompt index.
import type { StepPayload } from '../../lib/types';
import { responseCount } from '../explainer/term-values';

export interface RunGroup {
  prompt: number;
  responses: number[];
}

export interface AlignedRow {
  key: string;
  promptText: string | null;
  /** One entry per run, in the order given; null when that run's step has no such prompt. */
  perRun: (RunGroup | null)[];
}

function groupsOf(step: StepPayload): Map<string, { text: string | null; group: RunGroup }> {
  const prompts = step.responses.prompt as (number | null)[] | undefined;
  const texts = step.responses.prompt_text as (string | null)[] | undefined;
  const byKey = new Map<string, { text: string | null; group: RunGroup }>();
  for (let i = 0; i < responseCount(step); i++) {
    const prompt = prompts?.[i] ?? i;
    const text = texts?.[i] ?? null;
    const key = text !== null ? `text:${text}` : `prompt:${prompt}`;
    let entry = byKey.get(key);
    if (!entry) {
      entry = { text, group: { prompt, responses: [] } };
      byKey.set(key, entry);
    }
    entry.group.responses.push(i);
  }
  return byKey;
}

/** Rows in the first run's prompt order, then prompts only later runs have. */
export function alignGroups(steps: (StepPayload | null)[]): AlignedRow[] {
  const perRunGroups = steps.map((step) => (step ? groupsOf(step) : new Map()));
  const rows = new Map<string, AlignedRow>();
  perRunGroups.forEach((groups, runIndex) => {
    for (const [key, { text, group }] of groups) {
      let row = rows.get(key);
      if (!row) {
        row = { key, promptText: text, perRun: steps.map(() => null) };
        rows.set(key, row);
      }
      row.perRun[runIndex] = group;
    }
  });
  return [...rows.values()];
}

/** True when every run has every prompt: the runs really did see identical data at this step. */
export function fullyAligned(rows: AlignedRow[]): boolean {
  return rows.every((row) => row.perRun.every((g) => g !== null));
}
