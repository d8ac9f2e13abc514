// Reading the server's invariant checks (docs/contracts.md §3 "Checks") for display. The server
// compares stored numbers with each other — per token the stored objective against its stored
// parts, per step −Σ weight·objective against the logged loss — and sends residuals, verdicts and
// mismatch indices. This module only looks those up and maps flat token indices to (response,
// position); it never adds, subtracts or compares a stored value itself.
import type { CheckTolerance, CompositionPart, StepChecks, StepPayload } from './types';

/** The composition older servers checked against, before they sent `checks.composition`. */
export const DEFAULT_COMPOSITION: readonly CompositionPart[] = [
  { term: 'surrogate', sign: 1 },
  { term: 'kl_penalty', sign: -1 },
  { term: 'entropy_bonus', sign: 1 },
];

function isPart(part: unknown): part is CompositionPart {
  if (typeof part !== 'object' || part === null) return false;
  const { term, sign } = part as Record<string, unknown>;
  return typeof term === 'string' && term.length > 0 && typeof sign === 'number' && Number.isFinite(sign) && sign !== 0;
}

/** The parts of token_objective as the server's checks name them; the old three-part default
 * when the server sent no composition. Malformed entries are dropped, never guessed at. */
export function compositionOf(checks: StepChecks | null | undefined): CompositionPart[] {
  const given = checks?.composition;
  if (!Array.isArray(given)) return [...DEFAULT_COMPOSITION];
  return given.filter(isPart).map(({ term, sign }) => ({ term, sign }));
}

/** How a part joins the sum: its operator ('' for a leading +) and any factor besides ±1. */
export function partOperator(part: CompositionPart, first: boolean): { op: string; factor: string } {
  const op = part.sign < 0 ? '−' : first ? '' : '+';
  const size = Math.abs(part.sign);
  return { op, factor: size === 1 ? '' : `${size}·` };
}

/** The composition as one line of text, e.g. "surrogate − kl_penalty + entropy_bonus". */
export function compositionText(parts: readonly CompositionPart[]): string {
  if (parts.length === 0) return '0';
  return parts
    .map((part, i) => {
      const { op, factor } = partOperator(part, i === 0);
      const name = `${factor}${part.term}`;
      return i === 0 ? `${op}${name}` : `${op} ${name}`;
    })
    .join(' ');
}

export type Verdict = 'ok' | 'mismatch' | 'unavailable';

export interface TokenCheck {
  /** 'unknown': the server found more mismatches than it listed and this token lies past the list. */
  verdict: Verdict | 'unknown';
  /** token_objective − Σ sign·part over the composition, as the server computed it. */
  residual: number | null;
  tolerance: CheckTolerance | null;
  /** Columns the check needed but the step does not store. */
  missing: string[];
}

export interface MismatchRow {
  index: number;
  response: number;
  position: number;
  token: string | null;
  residual: number | null;
}

export interface StepCheckSummary {
  /** Completion tokens in the payload (the objective check covers every one of them). */
  tokens: number;
  objective: Verdict;
  mismatchCount: number;
  /** The first mismatching tokens, located in the step (at most the requested limit). */
  mismatches: MismatchRow[];
  maxAbsResidual: number | null;
  objectiveTolerance: CheckTolerance | null;
  loss: Verdict;
  lossFromTerms: number | null;
  lossLogged: number | null;
  lossMetric: string | null;
  lossTolerance: CheckTolerance | null;
  missingObjective: string[];
  missingLoss: string[];
  /** The parts the objective was checked against (checks.composition, or the old default). */
  composition: CompositionPart[];
}

function verdictOf(ok: boolean | null | undefined): Verdict {
  return ok === true ? 'ok' : ok === false ? 'mismatch' : 'unavailable';
}

const mismatchSets = new WeakMap<StepChecks, Set<number>>();

function mismatchSet(checks: StepChecks): Set<number> {
  let set = mismatchSets.get(checks);
  if (!set) {
    set = new Set(checks.objective_mismatches?.indices ?? []);
    mismatchSets.set(checks, set);
  }
  return set;
}

/** The server's verdict on the token at flat index `index` of the payload. */
export function tokenCheck(step: StepPayload, index: number | null): TokenCheck {
  const checks = step.checks;
  const missing = checks?.missing?.objective ?? [];
  const none: TokenCheck = { verdict: 'unavailable', residual: null, tolerance: null, missing };
  if (!checks || index === null || checks.objective_ok === null || checks.objective_ok === undefined) return none;
  const residual = checks.objective_residual?.[index] ?? null;
  const tolerance = checks.objective_tolerance ?? null;
  const list = checks.objective_mismatches;
  if (checks.objective_ok || !list) return { verdict: 'ok', residual, tolerance, missing };
  if (mismatchSet(checks).has(index)) return { verdict: 'mismatch', residual, tolerance, missing };
  // Indices come in ascending order; one past the last listed may or may not be a mismatch.
  const last = list.indices.length ? list.indices[list.indices.length - 1] : -1;
  const complete = list.indices.length >= list.count;
  return { verdict: complete || index < last ? 'ok' : 'unknown', residual, tolerance, missing };
}

/** (response, position) of a flat token index, from the payload's offsets (binary search). */
export function locateToken(offsets: number[], index: number): { response: number; position: number } | null {
  if (offsets.length < 2 || index < offsets[0] || index >= offsets[offsets.length - 1]) return null;
  let lo = 0;
  let hi = offsets.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (offsets[mid] <= index) lo = mid;
    else hi = mid - 1;
  }
  // Empty responses share their offset with the next one: the last response starting at or
  // before `index` is the one holding it.
  return { response: lo, position: index - offsets[lo] };
}

/** The step-level picture for the Step Inspector's badge, or null when the server sent no checks. */
export function summariseChecks(step: StepPayload, limit = 12): StepCheckSummary | null {
  const checks = step.checks;
  if (!checks) return null;
  const offsets = step.tokens.offsets;
  const tokenStrings = step.tokens.token as (string | null)[] | undefined;
  const mismatches: MismatchRow[] = [];
  for (const index of (checks.objective_mismatches?.indices ?? []).slice(0, limit)) {
    const at = locateToken(offsets, index);
    if (!at) continue;
    mismatches.push({ index, ...at, token: tokenStrings?.[index] ?? null, residual: checks.objective_residual?.[index] ?? null });
  }
  return {
    tokens: offsets.length ? offsets[offsets.length - 1] - offsets[0] : 0,
    objective: verdictOf(checks.objective_ok),
    mismatchCount: checks.objective_mismatches?.count ?? 0,
    mismatches,
    maxAbsResidual: checks.objective_max_abs_residual ?? null,
    objectiveTolerance: checks.objective_tolerance ?? null,
    loss: verdictOf(checks.loss_ok),
    lossFromTerms: checks.loss_from_terms ?? null,
    lossLogged: checks.loss_logged ?? null,
    lossMetric: checks.loss_logged_metric ?? null,
    lossTolerance: checks.loss_tolerance ?? null,
    missingObjective: checks.missing?.objective ?? [],
    missingLoss: checks.missing?.loss ?? [],
    composition: compositionOf(checks),
  };
}

/** A list of names as a short English phrase: "a", "a and b", "a, b and c". */
export function nameList(names: string[]): string {
  if (names.length <= 1) return names.join('');
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}
