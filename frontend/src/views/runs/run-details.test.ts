import { describe, expect, it } from 'vitest';
import { MAX_DEPTH, MAX_TEXT, detailLines, formatScalar, showValue } from './run-details';
import type { RunSummary } from '../../lib/types';

const run = (extra: Record<string, unknown>) => ({ id: 'r', steps: 1, last_step: 1, live: false, header: {}, ...extra }) as unknown as RunSummary;

describe('run details', () => {
  it('shows every row the server lists, unknown keys included, values as stored', () => {
    const lines = detailLines(run({
      details: [
        { label: 'Model', key: 'model', value: 'meta-llama/Llama-3.2-1B-Instruct' },
        { label: 'Source header', key: 'imported_from.header', value: { run_id: 'r-17', hparams: { clip_eps: [0.2, 0.28] } } },
        { label: 'learning_rate', key: 'learning_rate', value: 1e-6 },
      ],
    }));
    expect(lines.map((l) => l.label)).toEqual(['Model', 'Source header', 'learning_rate']);
    expect(lines[0].text).toBe('meta-llama/Llama-3.2-1B-Instruct');
    expect(lines[2].text).toBe('0.000001'); // the number as logged, not rounded
    const source = lines[1].nested;
    expect(source.map((l) => [l.label, l.text])).toEqual([['run_id', 'r-17'], ['hparams', '']]);
    expect(source[1].nested[0]).toMatchObject({ label: 'clip_eps', text: '0.2, 0.28', key: 'imported_from.header.hparams.clip_eps' });
  });

  it('falls back to the raw header when the server sends no rows', () => {
    const lines = detailLines(run({ header: { name: 'x', totalSteps: 2, model_name: null } }));
    expect(lines.map((l) => [l.label, l.text])).toEqual([['name', 'x'], ['totalSteps', '2'], ['model_name', 'null']]);
  });

  it('keeps hostile values as text and bounded', () => {
    expect(formatScalar('<img src=x onerror=alert(1)>')).toBe('<img src=x onerror=alert(1)>');
    expect(formatScalar('x'.repeat(MAX_TEXT + 50)).length).toBe(MAX_TEXT);
    let deep: unknown = 1;
    for (let i = 0; i < 50; i++) deep = { a: deep };
    let row = showValue('deep', 'deep', deep as never);
    let depth = 0;
    while (row.nested.length) {
      row = row.nested[0];
      depth += 1;
    }
    expect(depth).toBe(MAX_DEPTH);
    expect(row.text.startsWith('{"a":')).toBe(true);
    expect(showValue('e', 'e', [])).toMatchObject({ text: '(empty list)' });
    expect(showValue('o', 'o', {})).toMatchObject({ text: '(empty)' });
  });
});
