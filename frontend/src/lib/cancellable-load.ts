// The "load with cancel" of an $effect: hand a request's answer to the view unless the effect has
// been torn down since (the step or algorithm changed), so a slow, stale answer never overwrites
// a newer one. Return the canceller from the effect:
//
//   $effect(() => { ...; return loadUnlessCancelled(fetchIt(), { value, error, settled }); });

export interface LoadHandlers<T> {
  /** The request answered. */
  value: (value: T) => void;
  /** The request failed (or `value` threw). */
  error: (error: Error) => void;
  /** After `value` or `error`, whichever came. */
  settled?: () => void;
}

/** Wire `request` to `handlers` until the returned function is called; from then on, nothing is. */
export function loadUnlessCancelled<T>(request: Promise<T>, handlers: LoadHandlers<T>): () => void {
  let cancelled = false;
  request
    .then((value) => {
      if (!cancelled) handlers.value(value);
    })
    .catch((err: Error) => {
      if (!cancelled) handlers.error(err);
    })
    .finally(() => {
      if (!cancelled) handlers.settled?.();
    });
  return () => {
    cancelled = true;
  };
}
