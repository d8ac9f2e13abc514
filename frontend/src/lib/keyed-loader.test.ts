import { describe, expect, it } from 'vitest';
import { KeyedLoader, withEntry } from './keyed-loader';

const SIX = ['grpo', 'dapo', 'dr_grpo', 'gspo', 'ppo', 'reinforce'];

/** A fetch whose answers the test releases one by one, in any order. */
function controlledFetch() {
  const waiting = new Map<string, ((value: string) => void)[]>();
  const failing = new Map<string, ((error: Error) => void)[]>();
  const calls: string[] = [];
  const fetch = (id: string) =>
    new Promise<string>((resolve, reject) => {
      calls.push(id);
      waiting.set(id, [...(waiting.get(id) ?? []), resolve]);
      failing.set(id, [...(failing.get(id) ?? []), reject]);
    });
  const answer = async (id: string, value = `detail of ${id}`, which = 0) => {
    waiting.get(id)![which](value);
    await new Promise((r) => setTimeout(r, 0));
  };
  const reject = async (id: string) => {
    failing.get(id)![0](new Error(`${id} is gone`));
    await new Promise((r) => setTimeout(r, 0));
  };
  return { fetch, answer, reject, calls };
}

describe('keyed loader', () => {
  it('keeps every answer when six requests finish out of order (the 4-of-6 runs bug)', async () => {
    const server = controlledFetch();
    let record: Record<string, string> = {};
    const loader = new KeyedLoader<string>({
      fetch: server.fetch,
      commit: (id, value) => {
        record = withEntry(record, id, value);
        effect(); // like the Svelte effect that re-runs whenever the record changes
      },
    });
    const effect = () => loader.ensure(SIX, (id) => id in record);
    effect();
    for (const id of ['ppo', 'grpo', 'reinforce', 'dapo', 'gspo', 'dr_grpo']) await server.answer(id);
    expect(Object.keys(record).sort()).toEqual([...SIX].sort());
    expect(record.dapo).toBe('detail of dapo');
    // One request per run: re-running the effect while answers are pending asks for nothing new.
    expect(server.calls.sort()).toEqual([...SIX].sort());
  });

  it('documents the cause: a copy of the record taken before the await loses answers', async () => {
    const server = controlledFetch();
    let record: Record<string, string> = {};
    const staleLoad = async (id: string) => {
      record = { ...record, [id]: await server.fetch(id) }; // spread evaluated before the await
    };
    const loads = SIX.map(staleLoad);
    for (const id of SIX) await server.answer(id);
    await Promise.all(loads);
    expect(Object.keys(record)).toEqual(['reinforce']);
  });

  it('lets the newest of two overlapping requests win (a live run refreshed twice)', async () => {
    const server = controlledFetch();
    const committed: string[] = [];
    const loader = new KeyedLoader<string>({ fetch: server.fetch, commit: (_, value) => committed.push(value) });
    const first = loader.refresh('ppo');
    const second = loader.refresh('ppo');
    await server.answer('ppo', 'newer', 1);
    await server.answer('ppo', 'older', 0);
    await Promise.all([first, second]);
    expect(committed).toEqual(['newer']);
    expect(loader.pending('ppo')).toBe(false);
  });

  it('reports a failure once and allows a later retry', async () => {
    const server = controlledFetch();
    const failed: string[] = [];
    const loader = new KeyedLoader<string>({ fetch: server.fetch, commit: () => {}, fail: (id) => failed.push(id) });
    loader.ensure(['gone'], () => false);
    expect(loader.pending('gone')).toBe(true);
    await server.reject('gone');
    expect(failed).toEqual(['gone']);
    expect(loader.pending('gone')).toBe(false);
    loader.ensure(['gone'], () => false);
    expect(server.calls).toEqual(['gone', 'gone']);
  });

  it('asks only for what the record lacks', () => {
    const server = controlledFetch();
    const loader = new KeyedLoader<string>({ fetch: server.fetch, commit: () => {} });
    loader.ensure(SIX, (id) => id !== 'gspo');
    expect(server.calls).toEqual(['gspo']);
  });
});
