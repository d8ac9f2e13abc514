import { describe, expect, it } from 'vitest';
import { cardProof, relationsFor } from './card-relations';
import type { CardRelation, StepChecks } from '../../lib/types';

const rel = (card: string, status: CardRelation['status'], extra: Partial<CardRelation> = {}): CardRelation => ({
  card, name: `${card} eq`, status, checked: 10, max_abs_residual: 0, worst: null, reason: '', ...extra,
});
const checks = (relations: CardRelation[] | undefined) => ({ relations }) as unknown as StepChecks;

describe('card relations', () => {
  it('groups the server relations by card and ignores malformed ones', () => {
    const all = [rel('clip', 'holds'), rel('ratio', 'holds'), { card: 'clip' } as CardRelation];
    expect(relationsFor(checks(all), 'clip')).toHaveLength(1);
    expect(relationsFor(checks(undefined), 'clip')).toEqual([]);
  });
  it('says a card holds with the number of equations and values the server checked', () => {
    const proof = cardProof(checks([rel('clip', 'holds', { checked: 1000 }), rel('clip', 'holds', { checked: 18 }),
      rel('clip', 'unchecked', { reason: 'not stored: x' })]), 'clip');
    expect(proof.status).toBe('holds');
    expect(proof.summary).toContain('2 equations, 1,018 values');
    expect(proof.summary).toContain('1 not checkable');
  });
  it('reports a failure first, with the server residual', () => {
    const proof = cardProof(checks([rel('kl', 'holds'), rel('kl', 'fails', { max_abs_residual: 0.125 })]), 'kl');
    expect(proof.status).toBe('fails');
    expect(proof.summary).toContain('1.25e-1');
  });
  it('gives the reason when nothing could be checked, and nothing when the server sent no relation', () => {
    expect(cardProof(checks([rel('value', 'unchecked', { reason: 'current values not stored' })]), 'value').summary)
      .toBe('not checkable on this step: current values not stored');
    expect(cardProof(checks([]), 'value').status).toBe('none');
  });
});
