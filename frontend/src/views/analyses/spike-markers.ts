// Spike markers for the explorer, from the spikes analysis (unipo.analyses.spike_report).
export interface SpikeEntry {
  step: number;
  grad_norm: number;
  z: number | null;
  scaled: number | null;
  reasons: string[];
  stored: boolean;
  gradloc: { response: number; position: number } | null;
}

export interface SpikesResult {
  threshold: number | null;
  z: number;
  window: number;
  spikes: SpikeEntry[];
  updates: number;
  notes: string[];
}

export interface SpikeMarker {
  step: number;
  label: string;
  title: string;
  current: boolean;
  /** Its tokens are stored, so the step can be opened and explained. */
  openable: boolean;
}

export function spikeMarkers(result: SpikesResult | null | undefined, selected: number | null): SpikeMarker[] {
  if (!result) return [];
  return result.spikes.map((s) => ({
    step: s.step,
    label: `step ${s.step}`,
    title: [...s.reasons, s.gradloc ? `GradLoc culprit: response ${s.gradloc.response}, position ${s.gradloc.position}` : '', s.stored ? '' : 'tokens not stored']
      .filter(Boolean)
      .join('; '),
    current: s.step === selected,
    openable: s.stored,
  }));
}

export function isSpike(result: SpikesResult | null | undefined, step: number | null): boolean {
  return step !== null && !!result?.spikes.some((s) => s.step === step);
}
