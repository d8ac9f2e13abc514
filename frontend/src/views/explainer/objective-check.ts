// The explainer's per-token consistency line: the stored token objective next to the stored terms
// it is made of — the parts the server names in checks.composition — with the server's verdict
// (checks.objective_residual / objective_mismatches). The browser compares nothing: it looks up the
// stored values and the server's residual.
import type { CompositionPart, StepPayload, TokenSelection } from '../../lib/types';
import { compositionOf, partOperator, tokenCheck, type TokenCheck } from '../../lib/step-checks';
import { flatTokenIndex, lookupField } from './term-values';

/** What a part is, for the hover title of the parts this app knows; others say "stored <term>". */
const PART_TITLES: Record<string, string> = {
  surrogate: 'stored surrogate (the policy-gradient part)',
  kl_penalty: 'stored β·KL',
  entropy_bonus: 'stored β_H·H',
};

export interface ObjectivePart extends CompositionPart {
  /** The stored value of the part's column at the token (null: not stored). */
  value: number | null;
  /** Operator before the part: '−', '+' or '' (a leading +). */
  op: string;
  /** A factor besides ±1, written before the name ("0.5·"), else ''. */
  factor: string;
  title: string;
}

export interface ObjectiveCheck {
  /** The server's verdict ('unknown': beyond the mismatches it listed). */
  status: 'match' | 'mismatch' | 'unknown' | 'incomplete';
  /** The parts in the spec's order, each with its stored value. */
  parts: ObjectivePart[];
  token_objective: number | null;
  /** Server-computed token_objective − Σ sign·part. */
  residual: number | null;
  /** Relative tolerance and precision the server judged with. */
  tolerance: TokenCheck['tolerance'];
  /** The token is not selected by the token-selection rule (it adds nothing to the loss). */
  notSelected: boolean;
  /** Stored columns the server found absent or all null (status 'incomplete'). */
  missing: string[];
}

const STATUS: Record<TokenCheck['verdict'], ObjectiveCheck['status']> = {
  ok: 'match',
  mismatch: 'mismatch',
  unknown: 'unknown',
  unavailable: 'incomplete',
};

export function partTitle(term: string): string {
  return PART_TITLES[term] ?? `stored ${term}`;
}

export function checkTokenObjective(step: StepPayload, selection: TokenSelection): ObjectiveCheck {
  const read = (field: string): number | null => {
    const { value } = lookupField(step, selection, field);
    return typeof value === 'number' && Number.isFinite(value) ? value : null;
  };
  const server = tokenCheck(step, flatTokenIndex(step, selection));
  const selected = lookupField(step, selection, 'selected').value;
  const parts = compositionOf(step.checks).map((part, i) => ({
    ...part,
    ...partOperator(part, i === 0),
    value: read(part.term),
    title: partTitle(part.term),
  }));
  return {
    status: STATUS[server.verdict],
    parts,
    token_objective: read('token_objective'),
    residual: server.residual,
    tolerance: server.tolerance,
    notSelected: selected === 0 || selected === false,
    missing: server.missing,
  };
}
