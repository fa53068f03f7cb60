// `/workflows/{name}`: the definition drawn as a graph beside its JSON,
// a version picker, a start form and the workflow's recent executions.

import { get, post } from './api.js';
import { h, link, statusBadge, fmtTime, table, section, errorBox, json } from './ui.js';
import { renderGraph, legend } from './graph-render.js';

export async function render(main, [name]) {
  const params = new URLSearchParams(location.search);
  const wf = await get(`/api/v1/workflows/${encodeURIComponent(name)}`);
  const version = Number(params.get('version')) || wf.latestVersion;
  const [graph, definition, recent] = await Promise.all([
    get(`/api/v1/workflows/${encodeURIComponent(name)}/graph?version=${version}`),
    get(`/api/v1/workflows/${encodeURIComponent(name)}/versions/${version}`),
    get(`/api/v1/executions?workflow=${encodeURIComponent(name)}&limit=10`),
  ]);
  const picker = h('select', { onchange: (e) => { location.search = `?version=${e.target.value}`; } },
    wf.versions.slice().reverse().map((v) => {
      const o = h('option', { value: v }, `v${v}${v === wf.latestVersion ? ' (latest)' : ''}`);
      if (v === version) o.selected = true;
      return o;
    }));
  const graphBox = h('div', { class: 'graph-box' }, renderGraph(graph.graph));
  const input = h('textarea', { id: 'start-input', 'aria-label': 'execution input' }, '{}');
  const out = h('div');
  const start = async () => {
    out.replaceChildren();
    try {
      const body = { input: JSON.parse(input.value || 'null') };
      const r = await post(`/api/v1/workflows/${encodeURIComponent(name)}:${version}/executions`, body);
      location.href = `/executions/${r.executionId}`;
    } catch (e) {
      out.replaceChildren(errorBox(e));
    }
  };
  main.replaceChildren(
    h('h1', {}, `Workflow ${name}`),
    h('div', { class: 'toolbar' },
      h('span', {
        class: 'muted',
        title: wf.type === 'EXPRESS'
          ? 'EXPRESS: runs in memory; start and end are durable, the history is kept in memory while it lasts, at least once after a crash'
          : 'STANDARD: every step is durable, exactly once',
      }, wf.type || 'STANDARD'),
      'Version', picker,
      Object.keys(wf.aliases || {}).length ? h('span', { class: 'muted' },
        `aliases: ${Object.entries(wf.aliases).map(([a, r]) => `${a}→${r.map((x) => `v${x.version}`).join('/')}`).join(', ')}`) : null,
      link(`/executions?workflow=${encodeURIComponent(name)}`, 'all executions')),
    h('div', { class: 'split' },
      section('Graph', graphBox, legend(false)),
      section('Definition', json(definition))),
    h('div', { class: 'split' },
      section('Recent executions', table(['Execution', 'Status', 'Started'], recent.executions.map((e) =>
        [link(`/executions/${e.executionId}`, e.name), statusBadge(e.status), fmtTime(e.startedAt)]))),
      section('Start an execution', input, h('div', { class: 'toolbar' },
        h('button', { class: 'primary', onclick: start }, `Start v${version}`)), out)));
}
