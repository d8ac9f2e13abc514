// What the server found when it evaluated a card's equations on this step's stored columns
// (checks.relations). The browser only groups and words the server's verdicts; it evaluates nothing.
import type { CardRelation, StepChecks } from '../../lib/types';

export interface CardProof {
  /** 'holds': every checked equation held; 'fails': at least one did not; 'unchecked': none could run. */
  status: 'holds' | 'fails' | 'unchecked' | 'none';
  summary: string;
  relations: CardRelation[];
}

export function relationsFor(checks: StepChecks | null | undefined, cardId: string): CardRelation[] {
  const all = checks?.relations;
  if (!Array.isArray(all)) return [];
  return all.filter((r) => r && r.card === cardId && typeof r.name === 'string');
}

function plural(n: number, word: string): string {
  return `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;
}

export function cardProof(checks: StepChecks | null | undefined, cardId: string): CardProof {
  const relations = relationsFor(checks, cardId);
  if (relations.length === 0) return { status: 'none', summary: '', relations };
  const failed = relations.filter((r) => r.status === 'fails');
  const held = relations.filter((r) => r.status === 'holds');
  if (failed.length) {
    const worst = failed[0];
    const residual = worst.max_abs_residual === null ? 'not finite' : worst.max_abs_residual.toExponential(2);
    return { status: 'fails', summary: `✗ ${worst.name} does not hold on this step (largest residual ${residual})`, relations };
  }
  if (held.length) {
    const values = held.reduce((n, r) => n + (r.checked || 0), 0);
    const skipped = relations.length - held.length;
    return {
      status: 'holds',
      summary: `✓ holds on this step's stored values (${plural(held.length, 'equation')}, ${plural(values, 'value')})` +
        (skipped ? `; ${skipped} not checkable here` : ''),
      relations,
    };
  }
  return { status: 'unchecked', summary: `not checkable on this step: ${relations[0].reason}`, relations };
}
