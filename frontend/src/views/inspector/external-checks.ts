// Header-declared checks between two logged step metrics, as the server evaluated them
// (src/unipo/server/step_checks.py external_checks: e.g. a TRL capture's "TRL loss = UNIPO loss").
// Numbers come from the server; this only turns them into the badge's words.
import { formatStoredValue } from '../explainer/term-values';

export interface ExternalCheck {
  key: string;
  label: string;
  source?: string | null;
  status: 'holds' | 'fails' | 'unchecked';
  reason: string;
  reference?: { metric: string; value: number | null } | null;
  recomposed?: { metric: string; value: number | null } | null;
  difference?: number | null;
  logged_difference?: number | null;
  logged_ok?: boolean | null;
  tolerance?: { atol: number; rtol: number; bound: number; rule: string } | null;
}

export interface ExternalCheckLine {
  key: string;
  status: ExternalCheck['status'];
  /** "TRL loss = UNIPO loss ✓", or the failing / unchecked wording. */
  head: string;
  /** the values and the difference against the tolerance ('' when not checked). */
  detail: string;
  title: string;
}

const fmt = (value: number | null | undefined) => formatStoredValue(value ?? null);

/** The external checks of a checks block (absent on servers that predate them: none). */
export function externalChecks(checks: unknown): ExternalCheck[] {
  const list = (checks as { external?: unknown } | null | undefined)?.external;
  return Array.isArray(list) ? (list as ExternalCheck[]) : [];
}

export function externalCheckLine(check: ExternalCheck): ExternalCheckLine {
  const ref = check.reference, rec = check.recomposed, tol = check.tolerance;
  const values = ref && rec ? `${ref.metric} = ${fmt(ref.value)}, ${rec.metric} = ${fmt(rec.value)}` : '';
  const title = tol ? `checked by the server at this step: ${tol.rule} (atol ${fmt(tol.atol)}, rtol ${fmt(tol.rtol)})` : '';
  if (check.status === 'holds') {
    return { key: check.key, status: 'holds', head: `${check.label} ✓`,
             detail: `|Δ| = ${fmt(check.difference)} ≤ ${fmt(tol?.bound)}`, title: `${values}; ${title}` };
  }
  if (check.status === 'fails') {
    const over = check.difference !== null && check.difference !== undefined && tol && check.difference > tol.bound;
    const detail = `${values}: |Δ| = ${fmt(check.difference)} ${over ? '>' : '≤'} tolerance ${fmt(tol?.bound)}`
      + (check.reason ? ` (${check.reason})` : '');
    return { key: check.key, status: 'fails', head: `⚠ ${check.label.replace(' = ', ' ≠ ')}`, detail, title };
  }
  return { key: check.key, status: 'unchecked', head: `${check.label}: not checked`,
           detail: check.reason ? `(${check.reason})` : '', title };
}
