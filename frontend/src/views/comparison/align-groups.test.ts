import { describe, expect, it } from 'vitest';
import { alignGroups, fullyAligned } from './align-groups';
import { makeStep } from '../explainer/test-fixtures';

describe('alignGroups', () => {
  it('lines up identical prompt groups across runs', () => {
    const rows = alignGroups([makeStep(), makeStep()]);
    expect(rows.map((r) => r.promptText)).toEqual(['2+2=', '3+5=']);
    expect(rows[0].perRun).toEqual([
      { prompt: 0, responses: [0, 1] },
      { prompt: 0, responses: [0, 1] },
    ]);
    expect(fullyAligned(rows)).toBe(true);
  });

  it('matches by prompt text even when the order differs, and shows gaps', () => {
    const other = makeStep();
    other.responses.prompt_text = ['3+5=', '3+5=', '9+9='];
    const rows = alignGroups([makeStep(), other, null]);
    expect(rows.map((r) => r.promptText)).toEqual(['2+2=', '3+5=', '9+9=']);
    expect(rows[1].perRun[0]).toEqual({ prompt: 1, responses: [2] });
    expect(rows[1].perRun[1]).toEqual({ prompt: 0, responses: [0, 1] });
    expect(rows[0].perRun[1]).toBeNull();
    expect(rows[0].perRun[2]).toBeNull();
    expect(fullyAligned(rows)).toBe(false);
  });
});
