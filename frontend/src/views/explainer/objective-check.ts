// The explainer's per-token consistency line: the stored token objective next to the stored terms
// it is made of, with the server's verdict (checks.objective_residual / objective_mismatches). The
// browser compares nothing: it looks up the four stored values and the server's residual.
import type { StepPayload, TokenSelection } from '../../lib/types';
import { tokenCheck, type TokenCheck } from '../../lib/step-checks';
import { flatTokenIndex, lookupField } from './term-values';

export const OBJECTIVE_PARTS = ['surrogate', 'kl_penalty', 'entropy_bonus'] as const;

export interface ObjectiveCheck {
  /** The server's verdict ('unknown': beyond the mismatches it listed). */
  status: 'match' | 'mismatch' | 'unknown' | 'incomplete';
  surrogate: number | null;
  kl_penalty: number | null;
  entropy_bonus: number | null;
  token_objective: number | null;
  /** Server-computed token_objective − (surrogate − kl_penalty + entropy_bonus). */
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

export function checkTokenObjective(step: StepPayload, selection: TokenSelection): ObjectiveCheck {
  const read = (field: string): number | null => {
    const { value } = lookupField(step, selection, field);
    return typeof value === 'number' && Number.isFinite(value) ? value : null;
  };
  const server = tokenCheck(step, flatTokenIndex(step, selection));
  const selected = lookupField(step, selection, 'selected').value;
  return {
    status: STATUS[server.verdict],
    surrogate: read('surrogate'),
    kl_penalty: read('kl_penalty'),
    entropy_bonus: read('entropy_bonus'),
    token_objective: read('token_objective'),
    residual: server.residual,
    tolerance: server.tolerance,
    notSelected: selected === 0 || selected === false,
    missing: server.missing,
  };
}
