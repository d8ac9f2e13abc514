// What the linear chart's tooltip lists at a hovered step. One run: every metric shown. Several
// runs: the metric of the panel under the pointer, one row per run with its line key, so six runs
// give six rows to compare instead of six times every metric. Values are the logged ones
// (valueAtStep), formatted; nothing is computed.
import type { MetricsPayload } from '../../lib/types';
import type { RunStyle } from '../../lib/run-styles';
import type { TooltipContent, TooltipRow } from '../../lib/tooltip/tooltip.svelte';
import { formatValue } from './metric-info';
import { valueAtStep } from './series';

export interface TooltipRun {
  id: string;
  label: string;
  style: RunStyle;
  metrics: MetricsPayload | null;
}

export function linearTooltip(runs: TooltipRun[], shown: string[], step: number, panelMetric: string | null): TooltipContent {
  const valueOf = (run: TooltipRun, name: string) => {
    const at = run.metrics ? valueAtStep(run.metrics, name, step) : null;
    return at ? `${formatValue(at.value)}${at.approximate ? ` (step ${at.step})` : ''}` : '—';
  };
  if (runs.length <= 1) {
    const run = runs[0];
    return { title: `step ${step}`, rows: run ? shown.map((name) => ({ label: name, value: valueOf(run, name) })) : [] };
  }
  const metric = panelMetric && shown.includes(panelMetric) ? panelMetric : shown[0];
  if (!metric) return { title: `step ${step}` };
  const rows: TooltipRow[] = runs.map((run) => ({
    label: run.label,
    value: valueOf(run, metric),
    key: { colour: run.style.colour, dash: run.style.dash },
  }));
  return { title: `step ${step} · ${metric}`, rows };
}
