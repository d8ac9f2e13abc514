// Run details panel logic: the server's `details` rows (every header key, unknown ones included,
// server/run_details.py) turned into the lines the panel shows. Formatting only: every value is the
// header's own, shown as stored.
import type { Json, RunSummary } from '../../lib/types';

export interface DetailRow {
  label: string;
  key: string;
  value: Json;
}

export interface ShownRow {
  label: string;
  key: string;
  /** The value as text; '' for an object or array listed line by line in `nested`. */
  text: string;
  nested: ShownRow[];
}

/** Nesting shown as lines; deeper values are shown as their JSON text. */
export const MAX_DEPTH = 4;
/** Longest text shown for one value (a whole prompt in a header would swamp the panel). */
export const MAX_TEXT = 400;

function clip(text: string): string {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 1)}…` : text;
}

function isScalar(value: Json): boolean {
  return value === null || typeof value !== 'object';
}

/** A scalar as stored: strings verbatim, numbers as logged (no rounding), null as "null". */
export function formatScalar(value: Json): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return clip(value);
  return String(value);
}

export function showValue(label: string, key: string, value: Json, depth = 0): ShownRow {
  if (isScalar(value)) return { label, key, text: formatScalar(value), nested: [] };
  if (Array.isArray(value) && value.every(isScalar)) {
    return { label, key, text: clip(value.map(formatScalar).join(', ')) || '(empty list)', nested: [] };
  }
  if (depth >= MAX_DEPTH) return { label, key, text: clip(JSON.stringify(value)), nested: [] };
  const entries: [string, Json][] = Array.isArray(value)
    ? value.map((item, i) => [`[${i}]`, item] as [string, Json])
    : Object.entries(value as { [key: string]: Json });
  if (!entries.length) return { label, key, text: Array.isArray(value) ? '(empty list)' : '(empty)', nested: [] };
  return {
    label,
    key,
    text: '',
    nested: entries.map(([name, item]) => showValue(name, `${key}.${name}`, item, depth + 1)),
  };
}

/** The panel's lines: the server's rows, or (an older server) every header key as it is. */
export function detailLines(run: RunSummary & { details?: DetailRow[] }): ShownRow[] {
  const rows: DetailRow[] =
    run.details ?? Object.entries(run.header ?? {}).map(([key, value]) => ({ label: key, key, value: value as Json }));
  return rows.map((row) => showValue(row.label, row.key, row.value));
}
