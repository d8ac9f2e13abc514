import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, BUSY_RETRIES, accessMessage, getRuns, retryDelaySeconds } from './api';

afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

function answer(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });
}

describe('api', () => {
  it('waits as long as Retry-After says, growing per attempt, within bounds', () => {
    expect(retryDelaySeconds('1', 0)).toBe(1);
    expect(retryDelaySeconds('1', 2)).toBe(3);
    expect(retryDelaySeconds(null, 0)).toBe(1);
    expect(retryDelaySeconds('junk', 0)).toBe(1);
    expect(retryDelaySeconds('0', 0)).toBe(0.25);
    expect(retryDelaySeconds('60', 0)).toBe(10);
  });

  it('retries a busy (503) answer and returns the later success', async () => {
    vi.useFakeTimers();
    const fetchMock = vi.fn()
      .mockResolvedValueOnce(answer(503, { error: 'busy' }, { 'Retry-After': '1' }))
      .mockResolvedValueOnce(answer(200, [{ id: 'a' }]));
    vi.stubGlobal('fetch', fetchMock);
    const pending = getRuns();
    await vi.advanceTimersByTimeAsync(1000);
    await expect(pending).resolves.toEqual([{ id: 'a' }]);
    expect(fetchMock).toHaveBeenCalledTimes(2);
  });

  it('gives up after a few busy answers with the server message', async () => {
    vi.useFakeTimers();
    const fetchMock = vi.fn().mockImplementation(async () => answer(503, { error: 'heavy work queue is full' }, { 'Retry-After': '0' }));
    vi.stubGlobal('fetch', fetchMock);
    const pending = getRuns().catch((e) => e);
    await vi.advanceTimersByTimeAsync(60_000);
    const error = await pending;
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).message).toBe('heavy work queue is full');
    expect(fetchMock).toHaveBeenCalledTimes(BUSY_RETRIES + 1);
  });

  it('tells the user to open the printed URL when the server wants its token', async () => {
    vi.stubGlobal('fetch', vi.fn().mockResolvedValue(answer(401, { error: 'token required' })));
    await expect(getRuns()).rejects.toThrow(/\?token=/);
    expect(accessMessage(404)).toBeNull();
  });
});
