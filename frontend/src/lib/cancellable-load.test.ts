import { describe, expect, it } from 'vitest';
import { loadUnlessCancelled } from './cancellable-load';

const tick = () => new Promise((r) => setTimeout(r, 0));

/** A request the test answers or fails by hand. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function recorder() {
  const events: string[] = [];
  return {
    events,
    handlers: {
      value: (v: string) => events.push(`value ${v}`),
      error: (e: Error) => events.push(`error ${e.message}`),
      settled: () => events.push('settled'),
    },
  };
}

describe('loadUnlessCancelled', () => {
  it('hands the answer, then settles', async () => {
    const request = deferred<string>();
    const { events, handlers } = recorder();
    loadUnlessCancelled(request.promise, handlers);
    expect(events).toEqual([]);
    request.resolve('a');
    await tick();
    expect(events).toEqual(['value a', 'settled']);
  });

  it('hands a failure, then settles', async () => {
    const request = deferred<string>();
    const { events, handlers } = recorder();
    loadUnlessCancelled(request.promise, handlers);
    request.reject(new Error('404'));
    await tick();
    expect(events).toEqual(['error 404', 'settled']);
  });

  it('reports an error thrown by the value handler', async () => {
    const events: string[] = [];
    loadUnlessCancelled(Promise.resolve('a'), {
      value: () => {
        throw new Error('bad payload');
      },
      error: (e) => events.push(`error ${e.message}`),
    });
    await tick();
    expect(events).toEqual(['error bad payload']);
  });

  it('says nothing once cancelled, whether the request answers or fails', async () => {
    const answered = deferred<string>();
    const failed = deferred<string>();
    const { events, handlers } = recorder();
    const cancelAnswered = loadUnlessCancelled(answered.promise, handlers);
    const cancelFailed = loadUnlessCancelled(failed.promise, handlers);
    cancelAnswered();
    cancelFailed();
    answered.resolve('stale');
    failed.reject(new Error('stale'));
    await tick();
    expect(events).toEqual([]);
  });

  it('keeps a newer request when an older one is cancelled', async () => {
    const older = deferred<string>();
    const newer = deferred<string>();
    const { events, handlers } = recorder();
    const cancelOlder = loadUnlessCancelled(older.promise, handlers);
    cancelOlder();
    loadUnlessCancelled(newer.promise, handlers);
    newer.resolve('new');
    older.resolve('old');
    await tick();
    expect(events).toEqual(['value new', 'settled']);
  });
});
