// What the user is looking at, kept in the URL query string so a view can be shared or reloaded.
// Pure encode/decode; App.svelte holds the live state and writes it back with history.replaceState.

import type { TokenSelection } from './types';

/** Per-token quantity the Step Inspector colours tokens by. */
export type ColourSource =
  | 'grad_coef'
  | 'token_objective'
  | 'advantage'
  | 'ratio'
  | 'kl'
  | 'entropy'
  | 'probability'
  | 'clip'
  | 'weight'
  // ‖c_t‖ = |g|·‖∇θℓ‖, the token's share of the update's gradient (stored with --attribution exact).
  | 'contribution';

export const COLOUR_SOURCES: ColourSource[] = [
  'grad_coef',
  'token_objective',
  'advantage',
  'ratio',
  'kl',
  'entropy',
  'probability',
  'clip',
  'weight',
  'contribution',
];

export type ExplorerMode = 'radial' | 'linear';

export interface AppSelection {
  /** Selected run ids, in the order chosen; the first is the primary run. */
  runs: string[];
  step: number | null;
  token: TokenSelection | null;
  colour: ColourSource;
  /** Algorithm to compare with (formula diff / what-if), or null. */
  compare: string | null;
  /** Show the what-if panel (re-scores the open step under another algorithm). */
  whatif: boolean;
  explorer: ExplorerMode;
  /** Metric names shown in the explorer (empty = the view's default choice). */
  metrics: string[];
}

export const DEFAULT_SELECTION: AppSelection = {
  runs: [],
  step: null,
  token: null,
  // g, the push on each token's log-prob; a step without it falls back to the objective.
  colour: 'grad_coef',
  compare: null,
  whatif: false,
  explorer: 'radial',
  metrics: [],
};

function nonNegativeInt(text: string | null): number | null {
  if (text === null || !/^\d+$/.test(text)) return null;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : null;
}

function list(text: string | null): string[] {
  if (!text) return [];
  return text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

/** Read a selection from a query string ("?run=a,b&step=3&token=2:17"). Unknown or bad values fall back to defaults. */
export function decodeSelection(query: string): AppSelection {
  const params = new URLSearchParams(query.startsWith('?') ? query.slice(1) : query);
  const selection: AppSelection = { ...DEFAULT_SELECTION, runs: list(params.get('run')), metrics: list(params.get('metrics')) };
  selection.step = nonNegativeInt(params.get('step'));
  const token = params.get('token');
  if (token && selection.step !== null) {
    const [response, position] = token.split(':').map((part) => nonNegativeInt(part));
    if (response !== null && response !== undefined && position !== null && position !== undefined) {
      selection.token = { response, position };
    }
  }
  const colour = params.get('colour');
  if (colour && (COLOUR_SOURCES as string[]).includes(colour)) selection.colour = colour as ColourSource;
  const compare = params.get('compare');
  selection.compare = compare ? compare : null;
  selection.whatif = params.get('whatif') === '1' && selection.step !== null;
  if (params.get('view') === 'linear') selection.explorer = 'linear';
  return selection;
}

/** Write a selection as a query string; defaults are left out to keep links short. */
export function encodeSelection(selection: AppSelection): string {
  const params = new URLSearchParams();
  if (selection.runs.length) params.set('run', selection.runs.join(','));
  if (selection.step !== null) params.set('step', String(selection.step));
  if (selection.token && selection.step !== null) {
    params.set('token', `${selection.token.response}:${selection.token.position}`);
  }
  if (selection.colour !== DEFAULT_SELECTION.colour) params.set('colour', selection.colour);
  if (selection.compare) params.set('compare', selection.compare);
  if (selection.whatif && selection.step !== null) params.set('whatif', '1');
  if (selection.explorer !== DEFAULT_SELECTION.explorer) params.set('view', selection.explorer);
  if (selection.metrics.length) params.set('metrics', selection.metrics.join(','));
  const qs = params.toString();
  return qs ? `?${qs}` : '';
}
