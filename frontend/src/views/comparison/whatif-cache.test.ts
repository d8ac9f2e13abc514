import { describe, expect, it, vi } from 'vitest';
import { createWhatIfCache } from './whatif-cache';
import { makeStep } from '../explainer/test-fixtures';

describe('createWhatIfCache', () => {
  it('asks the server once per run/step/algorithm', async () => {
    const fetcher = vi.fn(async () => makeStep());
    const cache = createWhatIfCache(fetcher, 2);
    await cache.get('r', 1, 'dapo');
    await cache.get('r', 1, 'dapo');
    expect(fetcher).toHaveBeenCalledTimes(1);
    await cache.get('r', 1, 'gspo');
    await cache.get('r', 2, 'gspo'); // evicts ('r', 1, 'dapo')
    await cache.get('r', 1, 'dapo');
    expect(fetcher).toHaveBeenCalledTimes(4);
  });

  it('forgets failures', async () => {
    let fail = true;
    const fetcher = vi.fn(async () => {
      if (fail) throw new Error('boom');
      return makeStep();
    });
    const cache = createWhatIfCache(fetcher);
    await expect(cache.get('r', 1, 'x')).rejects.toThrow('boom');
    fail = false;
    await expect(cache.get('r', 1, 'x')).resolves.toBeTruthy();
    expect(fetcher).toHaveBeenCalledTimes(2);
  });
});
