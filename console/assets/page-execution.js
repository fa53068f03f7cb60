// `/executions/{id}`: the workflow graph coloured by what happened to each
// state, the selected state's details, the history as a timeline, and
// stop / redrive / start-again. Refreshes live from the stream.

import { get, post } from './api.js';
import { h, link, statusBadge, fmtTime, fmtMs, json, section, errorBox } from './ui.js';
import { renderGraph, setStatuses, legend } from './graph-render.js';
import { stateRuns, statusMap, durationMs } from './exec-model.js';
import { onExecution, throttle } from './live.js';

// What the last task attempt cost, when its executor measured it.
function meter(m) {
  if (!m) return null;
  const memory = m.maxMemoryKb != null ? `${(m.maxMemoryKb / 1024).toFixed(1)} MiB` : 'not measured';
  return [
    h('h2', {}, 'Task cost (last attempt)'),
    h('dl', { class: 'kv', id: 'task-meter', 'data-cold': String(Boolean(m.cold)) },
      h('dt', {}, 'Start'), h('dd', { class: 'meter-start' }, m.cold ? `cold${m.initMs > 0 ? ` (init ${fmtMs(m.initMs)})` : ''}` : 'warm'),
      h('dt', {}, 'Run time'), h('dd', { class: 'meter-duration' }, fmtMs(m.durationMs)),
      h('dt', {}, 'Max memory'), h('dd', { class: 'meter-memory' }, memory),
      h('dt', {}, 'GB-seconds'), h('dd', {}, Number(m.gbSeconds || 0).toPrecision(3)),
      m.version ? [h('dt', {}, 'Version'), h('dd', {}, m.version)] : null,
      m.instance != null ? [h('dt', {}, 'Instance'), h('dd', {}, `pid ${m.instance}`)] : null),
    m.stdout ? [h('h2', {}, 'Function stdout'), h('pre', { class: 'json', id: 'task-stdout' }, m.stdout)] : null,
    m.stderr ? [h('h2', {}, 'Function stderr'), h('pre', { class: 'json', id: 'task-stderr' }, m.stderr)] : null,
  ].flat();
}

// The variables a state assigned (its last visit), as history records them.
function variables(assigned) {
  if (!assigned) return null;
  const rows = Object.entries(assigned).map(([k, v]) =>
    h('tr', { 'data-variable': k }, h('td', {}, `$${k}`), h('td', {}, h('code', { class: 'variable-value' }, v))));
  return [h('h2', {}, 'Variables assigned'),
    h('table', { class: 'kv-table', id: 'state-variables' }, h('tbody', {}, rows))];
}

// Where a child execution comes from, and the children an execution started.
function parentLink(e) {
  const p = e.parent;
  if (!p) return null;
  const what = p.index != null ? `${p.state} item ${p.index}` : p.state;
  return [h('dt', {}, 'Started by'),
    h('dd', { id: 'parent-execution' }, link(`/executions/${encodeURIComponent(p.executionId)}`, p.executionId), ` (${what})`)];
}

function childList(children) {
  if (!children.length) return null;
  const rows = children.map((c) => {
    const tr = document.createElement('tr');
    tr.dataset.child = c.executionId;
    tr.append(h('td', {}, c.parent && c.parent.index != null ? String(c.parent.index) : ''),
      h('td', {}, link(`/executions/${encodeURIComponent(c.executionId)}`, c.name)),
      h('td', {}, statusBadge(c.status)), h('td', {}, c.parent ? c.parent.state : ''));
    return tr;
  });
  return section(`Child executions (${children.length})`,
    h('table', { id: 'child-executions', 'data-count': children.length },
      h('thead', {}, h('tr', {}, ['Item', 'Execution', 'Status', 'State'].map((t) => h('th', {}, t)))),
      h('tbody', {}, rows)));
}

function details(run, name) {
  if (!run) return h('p', { class: 'muted', id: 'state-details', 'data-selected': name }, `${name}: not reached.`);
  const retries = Math.max(0, run.attempts - 1);
  return h('div', { id: 'state-details', 'data-selected': name },
    h('h2', {}, name, ' ', h('span', { class: 'badge', 'data-status': run.status }, run.status)),
    h('dl', { class: 'kv' },
      h('dt', {}, 'Entered'), h('dd', {}, fmtTime(run.enteredAt)),
      h('dt', {}, 'Duration'), h('dd', {}, fmtMs(durationMs(run.enteredAt, run.exitedAt || run.failedAt))),
      h('dt', {}, 'Visits'), h('dd', {}, String(run.visits)),
      run.resource ? [h('dt', {}, 'Function'), h('dd', {}, run.resource)] : null,
      h('dt', {}, 'Retries'), h('dd', {}, String(retries)),
      run.error != null ? [h('dt', {}, 'Error'), h('dd', { class: 'state-error' }, run.error)] : null,
      run.cause != null ? [h('dt', {}, 'Cause'), h('dd', { class: 'state-cause' }, run.cause)] : null),
    meter(run.meter),
    variables(run.assigned),
    h('h2', {}, 'Input'), json(run.input),
    run.parameters !== undefined ? [h('h2', {}, 'Task payload'), json(run.parameters)] : null,
    h('h2', {}, 'Output'), json(run.output !== undefined ? run.output : run.taskOutput),
    h('h2', {}, 'Log (this state\'s events)'),
    h('pre', { class: 'json' }, run.events.map((e) =>
      `${e.timestamp} #${e.id} ${e.type}${e.error ? ` ${e.error}: ${e.cause || ''}` : ''}`).join('\n')));
}

function timeline(events) {
  if (!events.length) return h('p', { class: 'muted' }, 'No events.');
  const t0 = Date.parse(events[0].timestamp);
  const span = Math.max(1, Date.parse(events[events.length - 1].timestamp) - t0);
  const rows = events.map((e) => {
    const at = Date.parse(e.timestamp) - t0;
    const bad = /Failed|TimedOut|Aborted/.test(e.type);
    const tr = document.createElement('tr');
    if (bad) tr.className = 'ev-failed';
    tr.append(h('td', {}, String(e.id)), h('td', {}, `+${fmtMs(at)}`), h('td', {}, e.type),
      h('td', {}, e.name || e.state || e.resource || ''), h('td', {}, e.error ? `${e.error}: ${e.cause || ''}` : ''),
      h('td', { class: 'bar-cell' }, h('div', { class: 'tl-bar', style: `margin-left:${(100 * at) / span}%;width:2px` })));
    return tr;
  });
  return h('table', { class: 'timeline', id: 'timeline', 'data-events': events.length },
    h('thead', {}, h('tr', {}, ['#', 'At', 'Type', 'State', 'Error', ''].map((t) => h('th', {}, t)))),
    h('tbody', {}, rows));
}

export async function render(main, [id]) {
  const t0 = performance.now();
  const enc = encodeURIComponent(id);
  let [execution, history, children] = await Promise.all([
    get(`/api/v1/executions/${enc}`), get(`/api/v1/executions/${enc}/history`),
    get(`/api/v1/executions/${enc}/children`)]);
  const graph = await get(`/api/v1/workflows/${encodeURIComponent(execution.workflow)}/graph?version=${execution.version}`);
  const tFetched = performance.now();
  const svg = renderGraph(graph.graph);
  const tDrawn = performance.now();
  const graphBox = h('div', { class: 'graph-box', id: 'graph' }, svg);
  const head = h('div');
  const side = h('div', { class: 'card' });
  const tl = h('div');
  const kids = h('div');
  const actions = h('div');
  let runs = new Map();
  let selected = null;

  const select = (name) => {
    selected = name;
    for (const g of svg.querySelectorAll('.selected')) g.classList.remove('selected');
    const g = svg.querySelector(`[data-state="${CSS.escape(name)}"]`);
    if (g) g.classList.add('selected');
    side.replaceChildren(details(runs.get(name), name));
  };
  svg.addEventListener('click', (ev) => {
    const g = ev.target.closest('[data-state]');
    if (g) { ev.stopPropagation(); select(g.dataset.state); }
  });

  const draw = () => {
    runs = stateRuns(history.events);
    setStatuses(svg, statusMap(runs));
    const e = execution;
    head.replaceChildren(
      h('h1', {}, `Execution ${e.name} `, statusBadge(e.status)),
      h('dl', { class: 'kv card', id: 'execution-summary', 'data-status': e.status },
        h('dt', {}, 'Workflow'), h('dd', {}, link(`/workflows/${encodeURIComponent(e.workflow)}?version=${e.version}`, `${e.workflow} v${e.version}`)),
        h('dt', {}, 'Id'), h('dd', {}, e.executionId),
        h('dt', {}, 'Started'), h('dd', {}, fmtTime(e.startedAt)),
        h('dt', {}, 'Stopped'), h('dd', {}, fmtTime(e.stoppedAt) || '—'),
        h('dt', {}, 'Duration'), h('dd', {}, fmtMs(durationMs(e.startedAt, e.stoppedAt))),
        e.redriveCount ? [h('dt', {}, 'Redriven'), h('dd', {}, `${e.redriveCount}×`)] : null,
        parentLink(e),
        e.error != null ? [h('dt', {}, 'Error'), h('dd', { class: 'execution-error' }, e.error)] : null,
        e.cause != null ? [h('dt', {}, 'Cause'), h('dd', { class: 'execution-cause' }, e.cause)] : null));
    tl.replaceChildren(timeline(history.events));
    kids.replaceChildren(...[childList(children.executions)].filter(Boolean));
    if (selected) select(selected);
    else {
      const failed = [...runs.values()].find((r) => r.status === 'failed');
      if (failed) select(failed.name);
      else side.replaceChildren(h('p', { class: 'muted' }, 'Click a state to see its input, output, error and retries.'));
    }
    actions.replaceChildren(buttons(execution));
  };

  const refresh = async () => {
    [execution, history, children] = await Promise.all([
      get(`/api/v1/executions/${enc}`), get(`/api/v1/executions/${enc}/history`),
      get(`/api/v1/executions/${enc}/children`)]);
    draw();
  };

  function buttons(e) {
    const msg = h('div');
    const run = (f) => async () => {
      msg.replaceChildren();
      try { await f(); await refresh(); } catch (err) { msg.replaceChildren(errorBox(err)); }
    };
    const input = h('textarea', { id: 'restart-input', 'aria-label': 'new input' }, JSON.stringify(e.input, null, 2));
    const again = async () => {
      msg.replaceChildren();
      try {
        const r = await post(`/api/v1/workflows/${encodeURIComponent(e.workflow)}:${e.version}/executions`,
          { input: JSON.parse(input.value || 'null') });
        location.href = `/executions/${r.executionId}`;
      } catch (err) { msg.replaceChildren(errorBox(err)); }
    };
    return h('div', {},
      h('div', { class: 'toolbar' },
        h('button', { id: 'stop', disabled: e.status !== 'RUNNING', onclick: run(() => post(`/api/v1/executions/${enc}/stop`, {})) }, 'Stop'),
        h('button', { id: 'redrive', disabled: !['FAILED', 'TIMED_OUT', 'ABORTED'].includes(e.status), onclick: run(() => post(`/api/v1/executions/${enc}/redrive`, {})) }, 'Redrive')),
      h('details', {}, h('summary', {}, 'Start again with edited input'), input,
        h('button', { class: 'primary', id: 'start-again', onclick: again }, 'Start again')),
      msg);
  }

  main.replaceChildren(head,
    h('div', { class: 'split' },
      section('Graph', graphBox, legend(true)),
      h('div', {}, side, section('Actions', actions), section('Input', json(execution.input)),
        execution.output != null ? section('Output', json(execution.output)) : null)),
    kids,
    section('History', tl));
  draw();
  // For the browser test's timing: from this module's start, and from the
  // navigation (performance.now() counts from the page's time origin).
  const took = performance.now() - t0;
  graphBox.dataset.renderMs = took.toFixed(1);
  window.sluiceRender = {
    ms: took, sinceNavigation: performance.now(), events: history.events.length,
    fetchMs: tFetched - t0, graphMs: tDrawn - tFetched, pageMs: performance.now() - tDrawn,
  };

  const live = throttle(() => refresh().catch(() => {}), 300);
  onExecution((u) => { if (u.resync || u.executionId === id) live(); });
}
