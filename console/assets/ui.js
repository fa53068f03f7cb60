// Small DOM helpers shared by the pages. Text always goes in through
// textContent, never innerHTML, so names, inputs and errors cannot inject markup.

export function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    e.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

export const link = (href, text) => h('a', { href }, text);

export function statusBadge(status) {
  return h('span', { class: `badge s-${String(status).toLowerCase()}` }, status);
}

export function fmtTime(t) {
  if (!t) return '';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? t : d.toLocaleString();
}

export function fmtMs(ms) {
  if (ms == null || Number.isNaN(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(2)} s`;
  return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
}

export function json(v) {
  return h('pre', { class: 'json' }, v === undefined ? '' : JSON.stringify(v, null, 2));
}

export function table(headers, rows, attrs = {}) {
  return h('table', attrs,
    h('thead', {}, h('tr', {}, headers.map((t) => h('th', {}, t)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c))))));
}

export function errorBox(e) {
  const details = e && e.body && e.body.details;
  return h('div', { class: 'error-box', role: 'alert' },
    (e && e.message) || String(e),
    Array.isArray(details) && details.length
      ? h('ul', {}, details.map((d) => h('li', {}, `${d.pointer}: ${d.message}`))) : null);
}

export function section(title, ...children) {
  return h('section', { class: 'card' }, h('h2', {}, title), ...children);
}

/** A tiny line chart of numbers (newest last). */
export function sparkline(values, label) {
  const w = 160;
  const hgt = 36;
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('width', w);
  svg.setAttribute('height', hgt);
  svg.setAttribute('aria-label', label || 'chart');
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? w / (values.length - 1) : w;
  const pts = values.map((v, i) => `${(i * step).toFixed(1)},${(hgt - 2 - (v / max) * (hgt - 4)).toFixed(1)}`);
  const p = document.createElementNS(ns, 'polyline');
  p.setAttribute('points', pts.join(' '));
  svg.appendChild(p);
  return svg;
}

/** Horizontal bars of {label, value} (the overview's small charts). */
export function bars(items) {
  const max = Math.max(1, ...items.map((i) => i.value));
  return h('div', { class: 'bars' }, items.map((i) =>
    h('div', { class: `bar-row ${i.class || ''}` },
      h('span', { class: 'bar-label' }, i.label),
      h('span', { class: 'bar' , style: `width:${(100 * i.value) / max}%` }),
      h('span', { class: 'bar-value' }, String(i.value)))));
}
