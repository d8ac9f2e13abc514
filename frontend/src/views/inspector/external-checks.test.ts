import { describe, expect, it } from 'vitest';
import { externalCheckLine, externalChecks, type ExternalCheck } from './external-checks';

const base: ExternalCheck = {
  key: 'loss_check', label: 'TRL loss = UNIPO loss', source: 'trl', status: 'holds', reason: '',
  reference: { metric: 'trl_loss', value: 0.731 }, recomposed: { metric: 'unipo_loss', value: 0.73100003 },
  difference: 3e-8, logged_difference: 3e-8, logged_ok: true,
  tolerance: { atol: 1e-6, rtol: 1e-4, bound: 7.41e-5, rule: '|trl_loss - unipo_loss| <= atol + rtol * |trl_loss|' },
};

describe('external checks', () => {
  it('says the label with ✓ and the difference within the tolerance when it holds', () => {
    const line = externalCheckLine(base);
    expect(line.head).toBe('TRL loss = UNIPO loss ✓');
    expect(line.detail).toBe('|Δ| = 3.000e-8 ≤ 7.410e-5');
  });
  it('shows both values and the difference beyond the tolerance when it fails', () => {
    const line = externalCheckLine({ ...base, status: 'fails', recomposed: { metric: 'unipo_loss', value: 0.751 }, difference: 0.02 });
    expect(line.head).toBe('⚠ TRL loss ≠ UNIPO loss');
    expect(line.detail).toBe('trl_loss = 0.731, unipo_loss = 0.751: |Δ| = 0.02 > tolerance 7.410e-5');
  });
  it('gives the reason when a step could not be checked, and nothing for old servers', () => {
    const line = externalCheckLine({ ...base, status: 'unchecked', reason: 'not logged at this step: trl_loss', tolerance: null });
    expect(line.head).toBe('TRL loss = UNIPO loss: not checked');
    expect(line.detail).toContain('trl_loss');
    expect(externalChecks({})).toEqual([]);
    expect(externalChecks({ external: [base] })).toHaveLength(1);
  });
});
