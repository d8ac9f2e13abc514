// A token page of the server (contracts §3 "Paged steps"): an Arrow IPC stream decoded with
// flechette into one entry per response. Values are read as the server sent them.
import { tableFromIPC } from '@uwdata/flechette';

/** One response's token columns (in position order), as the server sent them. */
export interface ResponseTokens {
  response: number;
  position: number[];
  token: string[];
  /** Every other column of the page: numbers, null where the value is null. */
  columns: Record<string, (number | null)[]>;
}

function asNumber(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'boolean') return Number(value);
  return null;
}

/** Decodes an Arrow IPC stream whose first columns are `response` and `position`. */
export function decodeTokenPage(bytes: ArrayBuffer | Uint8Array): Map<number, ResponseTokens> {
  const table = tableFromIPC(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
  const names = table.names as string[];
  const response = table.getChild('response');
  const out = new Map<number, ResponseTokens>();
  if (!response) return out;
  const position = table.getChild('position');
  const token = names.includes('token') ? table.getChild('token') : null;
  const others = names.filter((n) => n !== 'response' && n !== 'position' && n !== 'token');
  const children = others.map((n) => table.getChild(n)!);
  for (let row = 0; row < table.numRows; row++) {
    const id = asNumber(response.at(row)) ?? -1;
    let entry = out.get(id);
    if (!entry) {
      entry = { response: id, position: [], token: [], columns: Object.fromEntries(others.map((n) => [n, []])) };
      out.set(id, entry);
    }
    entry.position.push(asNumber(position?.at(row)) ?? entry.position.length);
    if (token) {
      const text = token.at(row);
      entry.token.push(typeof text === 'string' ? text : '');
    }
    for (let c = 0; c < others.length; c++) entry.columns[others[c]].push(asNumber(children[c].at(row)));
  }
  return out;
}
