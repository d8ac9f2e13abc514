import { describe, expect, it } from 'vitest';
import { fitScale, splitDisplayLines } from './fit-formula';

describe('formula fitting', () => {
  it('leaves a formula that fits alone', () => {
    expect(fitScale(300, 360)).toBe(1);
    expect(fitScale(360, 360)).toBe(1);
  });
  it('shrinks a wider formula to the card width', () => {
    const scale = fitScale(400, 360);
    expect(scale).toBeLessThan(0.9);
    expect(400 * scale).toBeLessThanOrEqual(360);
    expect(scale).toBeGreaterThan(0.85);
  });
  it('never below the readable minimum (the rest scrolls)', () => {
    expect(fitScale(1000, 360)).toBe(0.72);
    expect(fitScale(1000, 360, 0.8)).toBe(0.8);
  });
  it('ignores unmeasured boxes', () => {
    expect(fitScale(0, 360)).toBe(1);
    expect(fitScale(400, 0)).toBe(1);
    expect(fitScale(Number.NaN, 360)).toBe(1);
  });
});

describe('display lines', () => {
  const GAE = String.raw`\htmlClass{t-advantage}{\hat{A}_{i,t}} = \sum_{l \ge 0} (\gamma\lambda)^l \htmlClass{t-td_error}{\delta_{i,t+l}},\quad \htmlClass{t-td_error}{\delta_{i,t}} = \htmlClass{t-token_reward}{\rho_{i,t}} + \gamma \htmlClass{t-value}{V_{i,t+1}} - \htmlClass{t-value}{V_{i,t}},\ \text{then whitened}`;
  it('breaks the GAE card after its sum, keeping every term wrapper whole', () => {
    const lines = splitDisplayLines(GAE);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe(String.raw`\htmlClass{t-advantage}{\hat{A}_{i,t}} = \sum_{l \ge 0} (\gamma\lambda)^l \htmlClass{t-td_error}{\delta_{i,t+l}},`);
    expect(lines[1].startsWith(String.raw`\htmlClass{t-td_error}{\delta_{i,t}} =`)).toBe(true);
    expect(lines.join('').replace(/\s/g, '')).toBe(GAE.replace(String.raw`\quad`, '').replace(/\s/g, ''));
  });
  it('never cuts inside braces, \\left…\\right or an environment, nor at \\quadrature-like names', () => {
    expect(splitDisplayLines(String.raw`a = {b \quad c}`)).toEqual([String.raw`a = {b \quad c}`]);
    expect(splitDisplayLines(String.raw`\left( a \quad b \right) \quad c`)).toEqual([String.raw`\left( a \quad b \right)`, 'c']);
    expect(splitDisplayLines(String.raw`\begin{x} a \quad b \end{x}`)).toHaveLength(1);
    expect(splitDisplayLines(String.raw`a \quadx b`)).toHaveLength(1);
    expect(splitDisplayLines(String.raw`a \qquad b`)).toHaveLength(1);
    expect(splitDisplayLines(String.raw`a \{ \quad b`)).toEqual([String.raw`a \{`, 'b']);
    expect(splitDisplayLines('x = 1')).toEqual(['x = 1']);
  });
});
