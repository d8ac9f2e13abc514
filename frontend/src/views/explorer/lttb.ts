// Largest-Triangle-Three-Buckets down-sampling for drawing: keeps the visual shape of a series
// with `threshold` points. Pure display math; the server already down-samples large runs.

/** Indices (ascending) of the points to keep. Null y values are skipped; x must be ascending. */
export function lttbIndices(x: number[], y: (number | null)[], threshold: number): number[] {
  const valid: number[] = [];
  for (let i = 0; i < x.length; i++) {
    const v = y[i];
    if (typeof v === 'number' && Number.isFinite(v)) valid.push(i);
  }
  if (threshold >= valid.length || threshold < 3) return valid;
  const kept: number[] = [valid[0]];
  const bucketSize = (valid.length - 2) / (threshold - 2);
  let a = 0; // index into valid of the last kept point
  for (let bucket = 0; bucket < threshold - 2; bucket++) {
    // Average of the next bucket: the third corner of the triangle.
    const nextStart = Math.floor((bucket + 1) * bucketSize) + 1;
    const nextEnd = Math.min(Math.floor((bucket + 2) * bucketSize) + 1, valid.length);
    let avgX = 0;
    let avgY = 0;
    for (let j = nextStart; j < nextEnd; j++) {
      avgX += x[valid[j]];
      avgY += y[valid[j]] as number;
    }
    const n = Math.max(1, nextEnd - nextStart);
    avgX /= n;
    avgY /= n;
    const start = Math.floor(bucket * bucketSize) + 1;
    const end = Math.floor((bucket + 1) * bucketSize) + 1;
    const ax = x[valid[a]];
    const ay = y[valid[a]] as number;
    let bestArea = -1;
    let best = start;
    for (let j = start; j < end; j++) {
      const area = Math.abs((ax - avgX) * ((y[valid[j]] as number) - ay) - (ax - x[valid[j]]) * (avgY - ay));
      if (area > bestArea) {
        bestArea = area;
        best = j;
      }
    }
    kept.push(valid[best]);
    a = best;
  }
  kept.push(valid[valid.length - 1]);
  return kept;
}
