// D3 drawing of the radial Training Explorer. Stateless: draw() renders the whole chart from a
// model; the Svelte component owns the state and calls draw() again when it changes.
import { select, lineRadial, arc as d3arc, curveLinear } from 'd3';
import {
  DEFAULT_GAP,
  END_SNAP,
  angleOf as baseAngleOf,
  makeFisheye,
  nearestIndex,
  pointerAngle,
  positionOfAngle,
  ringBands,
  stepPosition,
  valueRadius,
} from './radial-geometry';
import { lttbIndices } from './lttb';
import { turnBetween, unturn } from './radial-turn';
import { seriesRange } from './series';
import type { RolloutPhase } from './rollout-phases';

export interface RingSeries {
  name: string;
  values: (number | null)[];
  colour: string;
}

export interface RadialModel {
  size: number;
  steps: number[];
  rings: RingSeries[];
  /** Step the lens magnifies, or null. It follows the pointer only when the pointer leaves the
   * magnified window, so the steps under a resting pointer never move (a click opens the step the
   * centre shows). */
  focus: number | null;
  /** Step under the pointer (shown in the centre, marked by a grey rule), or null. */
  hovered?: number | null;
  selected: number | null;
  phases: RolloutPhase[];
  /** ± steps the lens magnifies. */
  lensSteps: number;
  /** Updates in the run (the drawn series may be down-sampled by the server). */
  totalUpdates: number;
  /** Steps flagged by the spikes analysis (server), marked on the outer edge; clicking one opens it. */
  spikes?: SpikeMark[];
  /** Turns the chart so the selected step sits at `angle` (radians clockwise from 12 o'clock);
   * `blend` 0…1 animates the turn. Null: unturned. */
  anchor?: { angle: number; blend: number } | null;
}

export interface SpikeMark {
  step: number;
  title: string;
  openable: boolean;
}

export interface RadialHandlers {
  onHover(step: number | null): void;
  onSelect(step: number | null): void;
  onPhaseHover(phase: RolloutPhase | null, event: PointerEvent): void;
  /** A spike marker was clicked (its own step, not the one under the lens). */
  onSpike?(step: number): void;
}

const POINTS_PER_RING = 720;
const LENS_SHARE = 0.15; // about one point per pixel of circumference at typical sizes

/** Indices drawn for a ring: LTTB for shape, plus every point inside the magnified window. */
function drawnIndices(steps: number[], values: (number | null)[], window: [number, number], first: number, last: number): number[] {
  const kept = new Set(lttbIndices(steps, values, POINTS_PER_RING));
  if (window[1] > window[0]) {
    const from = first + window[0] * (last - first);
    const to = first + window[1] * (last - first);
    for (let i = 0; i < steps.length; i++) if (steps[i] >= from && steps[i] <= to && values[i] !== null) kept.add(i);
  }
  return [...kept].sort((a, b) => a - b);
}

function finiteExtent(values: (number | null)[]): [number, number] {
  return seriesRange(values) ?? [0, 1];
}

export function drawRadial(svgElement: SVGSVGElement, model: RadialModel, handlers: RadialHandlers): void {
  const { size, steps, rings } = model;
  const svg = select(svgElement).attr('viewBox', `${-size / 2} ${-size / 2} ${size} ${size}`);
  svg.selectAll('*').remove();
  if (steps.length === 0) return;
  const first = steps[0];
  const last = steps[steps.length - 1];
  const outer = size / 2 - 14;
  const phaseBand = { inner: outer - 10, outer };
  const bands = ringBands(rings.length, size * 0.17, phaseBand.inner - 10, 10);
  const focusT = model.focus === null ? null : stepPosition(model.focus, first, last);
  const halfWidth = last > first ? model.lensSteps / (last - first) : 0;
  // The magnified window takes at least LENS_SHARE of the circle, so ±lensSteps stay readable on a
  // run of 100,000 updates (a fixed 5× would leave them a sliver).
  const magnification = Math.max(5, LENS_SHARE / Math.max(2 * halfWidth, 1e-9));
  const lens = makeFisheye(focusT, halfWidth, magnification);
  const rotation = chartRotation(model, first, last, halfWidth, magnification);
  const angleOf = (t: number) => baseAngleOf(t) + rotation;
  const angle = (step: number) => angleOf(lens.forward(stepPosition(step, first, last)));
  // The turn in radians, for whoever must aim at a step from outside (tests, benchmarks).
  svg.attr('data-rotation', rotation.toFixed(6));

  // Ring backgrounds first, so no ring's background covers another ring's line.
  rings.forEach((_, i) => {
    svg.append('path').attr('fill', '#f1f3f6').attr('d',
      d3arc<unknown>()({ innerRadius: bands[i].inner, outerRadius: bands[i].outer, startAngle: angleOf(0), endAngle: angleOf(1) }) ?? '');
  });

  // Lens window shading, over the ring backgrounds and under the lines.
  if (lens.window[1] > lens.window[0]) {
    svg.append('path').attr('class', 'lens').attr('fill', '#ffd970').attr('fill-opacity', 0.28).attr('d',
      d3arc<unknown>()({ innerRadius: bands.length ? bands[bands.length - 1].inner - 4 : 0, outerRadius: phaseBand.inner - 3,
        startAngle: angleOf(lens.forward(lens.window[0])), endAngle: angleOf(lens.forward(lens.window[1])) }) ?? '');
  }

  // Series; each ring spans its metric's [min, max] (the chips name the range).
  rings.forEach((ring, i) => {
    const band = bands[i];
    const [min, max] = finiteExtent(ring.values);
    const indices = drawnIndices(steps, ring.values, lens.window, first, last);
    const polar = polarPoints(indices.map((j) => [angle(steps[j]), valueRadius(ring.values[j], min, max, band)]));
    const line = lineRadial<[number, number | null]>()
      .angle((p) => p[0])
      .radius((p) => p[1] ?? band.inner)
      .defined((p) => p[1] !== null)
      .curve(curveLinear);
    svg.append('path').attr('class', 'ring-line').attr('data-metric', ring.name)
      .attr('fill', 'none').attr('stroke', ring.colour).attr('stroke-width', 1.6).attr('d', line(polar) ?? '');
    if (indices.length <= 60) {
      // Few updates: mark each logged value, the line alone would hide where the data are.
      for (const j of indices) {
        const r = valueRadius(ring.values[j], min, max, band);
        if (r === null) continue;
        const a = angle(steps[j]);
        svg.append('circle').attr('cx', Math.sin(a) * r).attr('cy', -Math.cos(a) * r).attr('r', 2.2).attr('fill', ring.colour);
      }
    }
  });

  // Rollout phases: alternating shades on the outer band.
  const phaseGroup = svg.append('g').attr('class', 'phases');
  model.phases.forEach((phase, i) => {
    const half = last > first ? 0.5 / (last - first) : 0.5;
    const a0 = angleOf(lens.forward(Math.max(0, stepPosition(phase.firstStep, first, last) - half)));
    const a1 = angleOf(lens.forward(Math.min(1, stepPosition(phase.lastStep, first, last) + half)));
    phaseGroup.append('path').attr('class', 'phase').attr('fill', i % 2 ? '#b8c4e6' : '#7f93cf')
      .attr('d', d3arc<unknown>()({ innerRadius: phaseBand.inner, outerRadius: phaseBand.outer, startAngle: a0, endAngle: a1 }) ?? '')
      .on('pointerenter', (event: PointerEvent) => handlers.onPhaseHover(phase, event))
      .on('pointermove', (event: PointerEvent) => handlers.onPhaseHover(phase, event))
      .on('pointerleave', (event: PointerEvent) => handlers.onPhaseHover(null, event));
  });

  // Step ticks at the two ends of the arc (first and last step).
  const ends = first === last ? ([[first, 'middle']] as const) : ([[first, 'start'], [last, 'end']] as const);
  for (const [step, anchor] of ends) {
    const a = angle(step);
    svg.append('text').attr('font-size', 12).attr('fill', '#667085').attr('text-anchor', anchor)
      .attr('x', Math.sin(a) * (outer + 2) + (anchor === 'start' ? 2 : anchor === 'end' ? -2 : 0))
      .attr('y', -Math.cos(a) * (outer + 2) + (first === last ? 12 : -2))
      .text(`step ${step}`);
  }

  // Focus and selection rules with a dot on each ring.
  const rule = (step: number, colour: string, cls: string) => {
    const a = angle(step);
    const inner = bands.length ? bands[bands.length - 1].inner : 0;
    svg.append('line').attr('class', cls).attr('stroke', colour).attr('stroke-width', 1.2)
      .attr('x1', Math.sin(a) * inner).attr('y1', -Math.cos(a) * inner)
      .attr('x2', Math.sin(a) * phaseBand.outer).attr('y2', -Math.cos(a) * phaseBand.outer);
    const index = nearestIndex(steps, step);
    rings.forEach((ring, i) => {
      const [min, max] = finiteExtent(ring.values);
      const r = valueRadius(ring.values[index], min, max, bands[i]);
      if (r === null) return;
      svg.append('circle').attr('cx', Math.sin(a) * r).attr('cy', -Math.cos(a) * r).attr('r', 3.2)
        .attr('fill', ring.colour).attr('stroke', '#fff').attr('stroke-width', 1);
    });
  };
  const hovered = model.hovered === undefined ? model.focus : model.hovered;
  if (hovered !== null && hovered !== model.selected) rule(hovered, '#9aa3b2', 'focus-rule');
  if (model.selected !== null) rule(model.selected, '#111', 'selected-rule');

  // Pointer layer over the rings (below the phase band, which keeps its own tooltip).
  const innermost = bands.length ? bands[bands.length - 1].inner : size * 0.17;
  const stepAt = (event: PointerEvent): number | null => {
    const [x, y] = pointerIn(svgElement, event, size);
    const t = positionOfAngle(unturn(pointerAngle(x, y), rotation), DEFAULT_GAP, END_SNAP);
    if (t === null) return null;
    return steps[nearestIndex(steps, first + lens.inverse(t) * (last - first))];
  };
  svg.append('path').attr('class', 'hit-ring').attr('fill', 'transparent').style('cursor', 'crosshair')
    .attr('d', d3arc<unknown>()({ innerRadius: innermost, outerRadius: phaseBand.inner, startAngle: 0, endAngle: 2 * Math.PI }) ?? '')
    .on('pointermove', (event: PointerEvent) => handlers.onHover(stepAt(event)))
    .on('pointerleave', () => handlers.onHover(null))
    .on('click', (event: PointerEvent) => handlers.onSelect(stepAt(event)));

  // Spike markers on the outer edge, over the pointer layer so they take their own clicks.
  const spikeGroup = svg.append('g').attr('class', 'spikes');
  for (const spike of model.spikes ?? []) {
    if (spike.step < first || spike.step > last) continue;
    const a = angle(spike.step);
    // A faint rule across the rings, so the spike's values can be read off each metric.
    const inner = bands.length ? bands[bands.length - 1].inner : 0;
    spikeGroup.append('line').attr('class', 'spike-rule').attr('stroke', '#f79009').attr('stroke-opacity', 0.5)
      .attr('stroke-dasharray', '2,3').attr('pointer-events', 'none')
      .attr('x1', Math.sin(a) * inner).attr('y1', -Math.cos(a) * inner)
      .attr('x2', Math.sin(a) * phaseBand.inner).attr('y2', -Math.cos(a) * phaseBand.inner);
    const tip = phaseBand.outer + 1;
    const base = phaseBand.outer + 11;
    const half = 6;
    const at = (r: number, dx: number) => `${Math.sin(a) * r + Math.cos(a) * dx},${-Math.cos(a) * r + Math.sin(a) * dx}`;
    const marker = spikeGroup.append('path').attr('class', 'spike-marker').attr('data-step', spike.step)
      .classed('current', spike.step === model.selected)
      .attr('d', `M${at(tip, 0)}L${at(base, -half)}L${at(base, half)}Z`)
      .attr('fill', spike.step === model.selected ? '#b54708' : '#f79009').attr('stroke', '#fff').attr('stroke-width', 0.8)
      .style('cursor', spike.openable ? 'pointer' : 'default');
    marker.append('title').text(`spike at step ${spike.step}: ${spike.title}`);
    if (spike.openable) marker.on('click', () => handlers.onSpike?.(spike.step));
  }

  // Centre: the focused step, and a click target that clears the selection.
  const centre = svg.append('g').attr('class', 'centre').style('cursor', model.selected !== null ? 'pointer' : 'default')
    .on('click', () => handlers.onSelect(null));
  centre.append('circle').attr('r', innermost - 6).attr('fill', '#fff').attr('stroke', '#e3e6eb');
  const shown = hovered ?? model.selected;
  centre.append('text').attr('text-anchor', 'middle').attr('y', -6).attr('font-size', 13).attr('fill', '#667085')
    .text(shown === null ? `${model.totalUpdates.toLocaleString('en-US')} updates` : 'step');
  centre.append('text').attr('class', 'centre-step').attr('text-anchor', 'middle').attr('y', 18).attr('font-size', 24)
    .attr('font-weight', 600).attr('fill', '#1d2129').text(shown === null ? '' : String(shown));
  if (model.selected !== null) {
    centre.append('text').attr('text-anchor', 'middle').attr('y', 36).attr('font-size', 11).attr('fill', '#8a93a3').text('click to clear');
  }
}

/**
 * The turn that brings the selected step to the anchor angle. Computed with the lens resting on
 * the selected step (not on the hovered one), so the chart does not turn under a moving pointer.
 */
function chartRotation(model: RadialModel, first: number, last: number, halfWidth: number, magnification: number): number {
  const anchor = model.anchor;
  if (!anchor || model.selected === null || anchor.blend === 0) return 0;
  const t = stepPosition(model.selected, first, last);
  const rest = makeFisheye(t, halfWidth, magnification);
  return turnBetween(baseAngleOf(rest.forward(t)), anchor.angle, anchor.blend);
}

/**
 * Polar points with extra samples between neighbours more than a degree apart, so a sparse
 * series follows the ring (a straight chord would cut across the inner rings). The radius is
 * interpolated only to draw the connecting line; the logged points themselves are unchanged.
 */
function polarPoints(points: [number, number | null][]): [number, number | null][] {
  const maxStep = Math.PI / 180;
  const out: [number, number | null][] = [];
  for (let i = 0; i < points.length; i++) {
    const [a, r] = points[i];
    if (i > 0) {
      const [a0, r0] = points[i - 1];
      const pieces = Math.floor((a - a0) / maxStep);
      if (r0 !== null && r !== null) {
        for (let k = 1; k < pieces; k++) out.push([a0 + ((a - a0) * k) / pieces, r0 + ((r - r0) * k) / pieces]);
      }
    }
    out.push([a, r]);
  }
  return out;
}

/** Pointer position relative to the chart centre, in viewBox units. */
function pointerIn(svgElement: SVGSVGElement, event: PointerEvent, size: number): [number, number] {
  const rect = svgElement.getBoundingClientRect();
  const scale = size / Math.min(rect.width, rect.height);
  return [(event.clientX - rect.left - rect.width / 2) * scale, (event.clientY - rect.top - rect.height / 2) * scale];
}
