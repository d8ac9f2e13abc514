// D3 drawing of the linear Training Explorer: one panel per metric on a shared step axis, every
// selected run overlaid in its own colour. Stateless, like radial-chart.ts.
import { axisBottom, axisLeft, extent, format, line, scaleLinear, select } from 'd3';
import { lttbIndices } from './lttb';
import { nearestIndex } from './radial-geometry';
import { normalise, panelScaling, type YMode } from './linear-scales';

export interface LinearRun {
  id: string;
  label: string;
  colour: string;
  /** stroke-dasharray from lib/run-styles.ts, so identical curves stay distinguishable. */
  dash: string;
  steps: number[];
  columns: Record<string, (number | null)[]>;
}

export interface LinearModel {
  width: number;
  panelHeight: number;
  metrics: string[];
  runs: LinearRun[];
  focus: number | null;
  selected: number | null;
  /** Steps the spikes analysis flags (server): a faint rule on every panel, a marker on the first. */
  spikes?: { step: number; title: string; openable: boolean }[];
  /** Shared axis, every run normalised to its own range, or 'auto' (normalise when ranges differ > 20×). */
  yMode?: YMode;
}

export interface LinearHandlers {
  /** `metric`: the panel under the pointer. */
  onHover(step: number | null, event: PointerEvent | null, metric: string | null): void;
  onSelect(step: number | null): void;
  /** A spike marker was clicked. */
  onSpike?(step: number): void;
}

const MARGIN = { top: 20, right: 16, bottom: 22, left: 58 };

/**
 * Labels of the runs that logged no value of `metric` (no column, or only nulls): their line is
 * absent from the panel, and the panel says so rather than leave a learner to count lines.
 */
export function runsWithoutValues(runs: Pick<LinearRun, 'label' | 'columns'>[], metric: string): string[] {
  return runs
    .filter((run) => !(run.columns[metric] ?? []).some((v) => v !== null && Number.isFinite(v)))
    .map((run) => run.label);
}
const MAX_POINTS = 1500;

export function drawLinear(svgElement: SVGSVGElement, model: LinearModel, handlers: LinearHandlers): void {
  const { width, panelHeight, metrics, runs } = model;
  const height = metrics.length * panelHeight;
  const svg = select(svgElement).attr('viewBox', `0 0 ${width} ${Math.max(height, 1)}`).attr('height', height);
  svg.selectAll('*').remove();
  const allSteps = runs.flatMap((r) => (r.steps.length ? [r.steps[0], r.steps[r.steps.length - 1]] : []));
  if (!allSteps.length || !metrics.length) return;
  const [x0, x1] = extent(allSteps) as [number, number];
  const x = scaleLinear().domain(x0 === x1 ? [x0 - 1, x1 + 1] : [x0, x1]).range([MARGIN.left, width - MARGIN.right]);

  // Steps are integers: never more ticks than steps, so no tick lands between two updates.
  const stepTicks = Math.max(1, Math.min(Math.floor(width / 90), x1 - x0));

  metrics.forEach((metric, panel) => {
    const top = panel * panelHeight;
    const g = svg.append('g').attr('class', 'panel').attr('data-metric', metric).attr('transform', `translate(0,${top})`);
    const scaling = panelScaling(runs, metric, model.yMode ?? 'auto');
    g.attr('data-scale', scaling.normalised ? 'normalised' : 'shared');
    const values = runs.flatMap((r) => (r.columns[metric] ?? []).filter((v): v is number => v !== null && Number.isFinite(v)));
    let [y0, y1] = scaling.normalised ? [0, 1] : values.length ? (extent(values) as [number, number]) : [0, 1];
    if (y0 === y1) [y0, y1] = [y0 - 1, y1 + 1];
    const yScale = scaleLinear().domain([y0, y1]).nice().range([panelHeight - MARGIN.bottom, MARGIN.top]);
    // Height of one run's value: on a normalised panel, within that run's own [min, max].
    const yOf = (runId: string, v: number) => {
      const range = scaling.ranges.get(runId);
      return yScale(scaling.normalised && range ? normalise(v, range) : v);
    };
    g.append('g').attr('transform', `translate(0,${panelHeight - MARGIN.bottom})`).call(axisBottom(x).ticks(stepTicks).tickFormat(format('d')).tickSizeOuter(0));
    const yAxis = axisLeft(yScale).ticks(4).tickSizeOuter(0);
    if (scaling.normalised) yAxis.tickValues([0, 0.5, 1]).tickFormat((v) => (v === 0 ? 'min' : v === 1 ? 'max' : ''));
    g.append('g').attr('class', 'y-axis').attr('transform', `translate(${MARGIN.left},0)`).call(yAxis);
    const title = g.append('text').attr('x', MARGIN.left).attr('y', MARGIN.top - 6).attr('font-size', 12).attr('fill', '#1d2129');
    title.append('tspan').attr('font-weight', 600).text(metric);
    if (scaling.normalised) {
      title.append('tspan').attr('class', 'scale-note').attr('dx', 10).attr('font-size', 11).attr('fill', '#667085')
        .text(`each run on its own scale (its min … max${scaling.spread > 1 ? `; ranges differ ${formatSpread(scaling.spread)}×` : ''}) — hover for stored values`);
    }
    const absent = runs.length > 1 ? runsWithoutValues(runs, metric) : [];
    if (absent.length) {
      title.append('tspan').attr('class', 'absent').attr('dx', 10).attr('font-size', 11).attr('fill', '#667085')
        .text(`not logged by ${absent.join(', ')}`);
    }
    for (const run of runs) {
      const column = run.columns[metric];
      if (!column) continue;
      const kept = lttbIndices(run.steps, column, MAX_POINTS);
      const path = line<number>().defined((i) => column[i] !== null && Number.isFinite(column[i] as number))
        .x((i) => x(run.steps[i])).y((i) => yOf(run.id, column[i] as number));
      g.append('path').attr('class', 'series').attr('data-run', run.id).attr('fill', 'none')
        .attr('stroke', run.colour).attr('stroke-width', 1.6).attr('stroke-dasharray', run.dash).attr('d', path(kept) ?? '');
      if (kept.length <= 60) {
        // Few updates: mark each logged value (a line alone hides where the data are).
        for (const i of kept) {
          const v = column[i];
          if (v === null || !Number.isFinite(v)) continue;
          g.append('circle').attr('class', 'point').attr('cx', x(run.steps[i])).attr('cy', yOf(run.id, v)).attr('r', 2.4).attr('fill', run.colour);
        }
      }
    }
    const rule = (step: number, colour: string, dash: string) => {
      g.append('line').attr('x1', x(step)).attr('x2', x(step)).attr('y1', MARGIN.top).attr('y2', panelHeight - MARGIN.bottom)
        .attr('stroke', colour).attr('stroke-dasharray', dash);
      for (const run of runs) {
        const column = run.columns[metric];
        const i = nearestIndex(run.steps, step);
        const v = column?.[i];
        if (i < 0 || v === null || v === undefined) continue;
        g.append('circle').attr('cx', x(run.steps[i])).attr('cy', yOf(run.id, v)).attr('r', 3).attr('fill', run.colour).attr('stroke', '#fff');
      }
    };
    for (const spike of model.spikes ?? []) {
      if (spike.step < x0 || spike.step > x1) continue;
      g.append('line').attr('class', 'spike-rule').attr('x1', x(spike.step)).attr('x2', x(spike.step))
        .attr('y1', MARGIN.top).attr('y2', panelHeight - MARGIN.bottom).attr('stroke', '#f79009').attr('stroke-opacity', 0.55)
        .attr('stroke-dasharray', '2,3');
    }
    if (model.focus !== null) rule(model.focus, '#9aa3b2', '3,3');
    if (model.selected !== null) rule(model.selected, '#111', '');
  });

  // Left of the last step axis' first tick label (at the right end it sat on top of the last one).
  svg.append('text').attr('x', MARGIN.left - 10).attr('y', height - MARGIN.bottom + 15).attr('text-anchor', 'end')
    .attr('font-size', 10).attr('fill', '#667085').text('step');

  // One pointer layer over all panels; the pointer snaps to the nearest logged step of any run.
  const logged = [...new Set(runs.flatMap((r) => r.steps))].sort((a, b) => a - b);
  const stepAt = (event: PointerEvent) => {
    const rect = svgElement.getBoundingClientRect();
    const px = ((event.clientX - rect.left) / rect.width) * width;
    if (px < MARGIN.left - 6 || px > width - MARGIN.right + 6) return null;
    const index = nearestIndex(logged, x.invert(px));
    return index < 0 ? null : logged[index];
  };
  const panelAt = (event: PointerEvent) => {
    const rect = svgElement.getBoundingClientRect();
    const py = ((event.clientY - rect.top) / rect.height) * height;
    return metrics[Math.min(metrics.length - 1, Math.max(0, Math.floor(py / panelHeight)))] ?? null;
  };
  svg.append('rect').attr('class', 'hit').attr('x', MARGIN.left - 6).attr('y', 0).attr('width', width - MARGIN.left - MARGIN.right + 12)
    .attr('height', height).attr('fill', 'transparent').style('cursor', 'crosshair')
    .on('pointermove', (event: PointerEvent) => handlers.onHover(stepAt(event), event, panelAt(event)))
    .on('pointerleave', () => handlers.onHover(null, null, null))
    .on('click', (event: PointerEvent) => handlers.onSelect(stepAt(event)));

  // Spike markers above the first panel's plot, over the pointer layer so they take their own clicks.
  const spikeGroup = svg.append('g').attr('class', 'spikes');
  for (const spike of model.spikes ?? []) {
    if (spike.step < x0 || spike.step > x1) continue;
    const sx = x(spike.step);
    const current = spike.step === model.selected;
    const marker = spikeGroup.append('path').attr('class', 'spike-marker').attr('data-step', spike.step).classed('current', current)
      .attr('d', `M${sx},${MARGIN.top}L${sx - 5},${MARGIN.top - 10}L${sx + 5},${MARGIN.top - 10}Z`)
      .attr('fill', current ? '#b54708' : '#f79009').attr('stroke', '#fff').attr('stroke-width', 0.8)
      .style('cursor', spike.openable ? 'pointer' : 'default');
    marker.append('title').text(`spike at step ${spike.step}: ${spike.title}`);
    if (spike.openable) marker.on('click', () => handlers.onSpike?.(spike.step));
  }
}

function formatSpread(spread: number): string {
  return spread >= 100 ? format(',.0f')(spread) : format('.0f')(spread);
}
