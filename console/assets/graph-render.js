// Draws a laid-out graph (graph-layout.js) as SVG. Every state's element
// carries data-state="NAME" (and data-status on execution pages, set by
// setStatuses) — browser tests find states by these attributes.

import { layoutScope, START } from './graph-layout.js';

const SVG = 'http://www.w3.org/2000/svg';
const MARGIN = 16;

function el(name, attrs = {}, parent = null) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

function pathOf(points) {
  return points.map(([x, y], i) => `${i ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`).join(' ');
}

function drawScope(layout, parent) {
  const edges = el('g', { class: 'edges' }, parent);
  for (const e of layout.edges) {
    el('path', {
      class: `edge edge-${e.kind}${e.back ? ' edge-back' : ''}`,
      d: pathOf(e.points),
      'marker-end': `url(#arrow-${e.kind === 'catch' ? 'catch' : 'plain'})`,
      'data-from': e.from === START ? '' : e.from,
      'data-to': e.to,
    }, edges);
  }
  for (const n of layout.nodes) {
    if (n.start) {
      el('circle', { class: 'start', cx: n.x + n.w / 2, cy: n.y + n.h / 2, r: n.w / 2 }, parent);
      continue;
    }
    const s = n.state;
    const g = el('g', {
      class: `${n.branches ? 'group' : 'node'} t-${s.type}${s.end ? ' end' : ''}`,
      transform: `translate(${n.x.toFixed(1)},${n.y.toFixed(1)})`,
      'data-state': s.name,
      tabindex: '0',
    }, parent);
    el('rect', { width: n.w, height: n.h, rx: n.branches ? 8 : 6 }, g);
    const title = el('title', {}, g);
    title.textContent = `${s.name} (${s.type})${s.resource ? `\n${s.resource}` : ''}`;
    if (n.branches) {
      const label = el('text', { x: 10, y: 17, class: 'group-label' }, g);
      label.textContent = `${s.name} · ${s.type}`;
      n.branches.forEach((b, i) => {
        const [bx, by] = n.branchOffsets[i];
        const inner = el('g', { class: 'branch', transform: `translate(${bx},${by})` }, g);
        el('rect', { class: 'branch-frame', x: -4, y: -4, width: b.width + 8, height: b.height + 8, rx: 4 }, inner);
        drawScope(b, inner);
      });
    } else {
      const label = el('text', { x: n.w / 2, y: n.h / 2 + 4, 'text-anchor': 'middle' }, g);
      label.textContent = s.name;
    }
  }
}

/** An <svg> of the graph scope (from the graph endpoint). */
export function renderGraph(scope) {
  const layout = layoutScope(scope);
  const w = layout.width + 2 * MARGIN + 30;
  const h = layout.height + 2 * MARGIN;
  const svg = el('svg', { class: 'graph', width: w, height: h, viewBox: `0 0 ${w} ${h}` });
  const defs = el('defs', {}, svg);
  for (const kind of ['plain', 'catch']) {
    const m = el('marker', {
      id: `arrow-${kind}`, viewBox: '0 0 10 10', refX: 9, refY: 5,
      markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse',
    }, defs);
    el('path', { d: 'M0,0 L10,5 L0,10 z', class: `arrow-${kind}` }, m);
  }
  const root = el('g', { transform: `translate(${MARGIN},${MARGIN})` }, svg);
  drawScope(layout, root);
  return svg;
}

/** Colour states: `statuses` maps state name → one of not-started, running,
 * succeeded, failed, caught, retried. */
export function setStatuses(svg, statuses) {
  for (const g of svg.querySelectorAll('[data-state]')) {
    g.setAttribute('data-status', statuses.get(g.dataset.state) || 'not-started');
  }
}

/** The legend shown under graphs. */
export function legend(withStatus) {
  const div = document.createElement('div');
  div.className = 'legend';
  const items = [
    ['edge-next', 'Next'], ['edge-choice', 'Choice'], ['edge-default', 'Default'], ['edge-catch', 'Catch'],
  ];
  const statuses = withStatus
    ? ['not-started', 'running', 'succeeded', 'failed', 'caught', 'retried'] : [];
  div.innerHTML = items.map(([c, t]) => `<span class="lg ${c}">${t}</span>`).join('')
    + statuses.map((s) => `<span class="lg-status" data-legend="${s}">${s}</span>`).join('');
  return div;
}
