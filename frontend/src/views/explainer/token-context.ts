// What the advantage and clip cards show around the selected token, read from stored columns:
// the rewards of the token's prompt group, the value/return chain along its response (PPO/GAE),
// and which branch of min()/clip was in force. Lookups only; no value is computed here.
import type { StepPayload, TokenSelection } from '../../lib/types';
import { flatTokenIndex, lookupField, responseCount, responseLength } from './term-values';

export interface GroupMember {
  response: number;
  reward: number | null;
  selected: boolean;
}

export interface GroupContext {
  group: number | string | null;
  members: GroupMember[];
}

/** The rewards of every response that shares the selected response's prompt group. */
export function groupContext(step: StepPayload, selection: TokenSelection): GroupContext | null {
  const groups = step.responses.group ?? step.responses.prompt;
  const rewards = step.responses.reward;
  if (!Array.isArray(groups) || selection.response >= groups.length) return null;
  const group = groups[selection.response] as number | string | null;
  const members: GroupMember[] = [];
  for (let i = 0; i < responseCount(step); i++) {
    if (groups[i] !== group) continue;
    const reward = Array.isArray(rewards) ? rewards[i] : null;
    members.push({ response: i, reward: typeof reward === 'number' ? reward : null, selected: i === selection.response });
  }
  return { group, members };
}

export interface ChainRow {
  position: number;
  token: string | null;
  /** Stored columns by name (null when not stored). */
  values: Record<string, number | null>;
  selected: boolean;
}

/** Stored per-token columns of `fields` for the tokens around the selected one in its response. */
export function tokenChain(step: StepPayload, selection: TokenSelection, fields: string[], radius = 3): ChainRow[] {
  const length = responseLength(step, selection.response);
  if (flatTokenIndex(step, selection) === null) return [];
  const rows: ChainRow[] = [];
  const from = Math.max(0, selection.position - radius);
  const to = Math.min(length - 1, selection.position + radius);
  for (let position = from; position <= to; position++) {
    const at = { response: selection.response, position };
    const token = lookupField(step, at, 'token').value;
    const values: Record<string, number | null> = {};
    for (const field of fields) {
      const bound = lookupField(step, at, field);
      values[field] = bound.source === 'token' && typeof bound.value === 'number' ? bound.value : null;
    }
    rows.push({ position, token: typeof token === 'string' ? token : null, values, selected: position === selection.position });
  }
  return rows;
}

export interface BranchState {
  /** 'clipped': the clipped branch of min() won (gradient cut); 'unclipped': r·Â won; null: not stored. */
  winner: 'clipped' | 'unclipped' | null;
  clippedLow: boolean;
  clippedHigh: boolean;
}

const flag = (v: unknown) => v === 1 || v === true;

export function branchState(step: StepPayload, selection: TokenSelection): BranchState {
  const minBranch = lookupField(step, selection, 'min_branch');
  const low = lookupField(step, selection, 'clipped_low');
  const high = lookupField(step, selection, 'clipped_high');
  return {
    winner: minBranch.source === 'missing' || minBranch.value === null ? null : flag(minBranch.value) ? 'clipped' : 'unclipped',
    clippedLow: flag(low.value),
    clippedHigh: flag(high.value),
  };
}
