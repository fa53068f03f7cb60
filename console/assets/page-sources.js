// `/sources`: source bindings and trigger rules (GET /api/v1/sources,
// /api/v1/triggers), and a form that sends a test CloudEvent to
// POST /api/v1/events and shows which executions it started — live.

import { getOptional, request, metrics } from './api.js';
import { h, link, statusBadge, table, json, section, errorBox, fmtTime } from './ui.js';
import { onExecution } from './live.js';

const SAMPLE = {
  specversion: '1.0', id: '', source: 'console', type: 'test.event', datacontenttype: 'application/json',
  data: { hello: 'world' },
};

function executionIds(v, out = new Set()) {
  if (Array.isArray(v)) v.forEach((x) => executionIds(x, out));
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if ((k === 'executionIds' || k === 'executions') && Array.isArray(x)) {
        x.forEach((i) => out.add(typeof i === 'string' ? i : i.executionId));
      } else if (k === 'executionId' && typeof x === 'string') out.add(x);
      else executionIds(x, out);
    }
  }
  return out;
}

function listOf(r, key) {
  if (r == null) return null;
  return Array.isArray(r) ? r : r[key] || [];
}

export async function render(main) {
  const [sources, triggers, samples] = await Promise.all([
    getOptional('/api/v1/sources'), getOptional('/api/v1/triggers'), metrics()]);
  const srcList = listOf(sources, 'sources');
  const trgList = listOf(triggers, 'triggers');
  const stat = (name, key) => samples.filter((s) => s.labels.source === name && s.name.includes(key))
    .reduce((a, s) => a + s.value, 0);

  const event = h('textarea', { id: 'event-json', 'aria-label': 'test event' },
    JSON.stringify({ ...SAMPLE, id: `console-${Date.now()}` }, null, 2));
  const result = h('div', { id: 'event-result' });
  const started = h('div', { id: 'event-executions' });
  const watched = new Map();
  const drawStarted = () => {
    started.replaceChildren(watched.size ? table(['Execution', 'Workflow', 'Status'],
      [...watched.values()].map((e) => [link(`/executions/${e.executionId}`, e.executionId), e.workflow || '',
        h('span', { 'data-execution': e.executionId, 'data-status': e.status || '' }, statusBadge(e.status || '…'))]))
      : h('p', { class: 'muted' }, 'No executions started by this event.'));
  };
  onExecution((u) => {
    if (watched.has(u.executionId)) { watched.set(u.executionId, u); drawStarted(); }
  });
  const send = async () => {
    result.replaceChildren();
    let body;
    try { body = JSON.parse(event.value); } catch (e) { result.replaceChildren(errorBox(new Error(`the event is not JSON: ${e.message}`))); return; }
    try {
      const r = await request('POST', '/api/v1/events', body, { 'content-type': 'application/cloudevents+json' });
      result.replaceChildren(h('h2', {}, 'Answer'), json(r));
      watched.clear();
      for (const id of executionIds(r)) watched.set(id, { executionId: id, status: 'RUNNING' });
      drawStarted();
      for (const id of watched.keys()) {
        getOptional(`/api/v1/executions/${id}`).then((e) => { if (e) { watched.set(id, e); drawStarted(); } });
      }
      event.value = JSON.stringify({ ...body, id: `console-${Date.now()}` }, null, 2);
    } catch (e) {
      result.replaceChildren(errorBox(e));
    }
  };

  main.replaceChildren(h('h1', {}, 'Sources and rules'),
    h('div', { class: 'grid' },
      section('Sources', srcList == null ? h('p', { class: 'muted' }, 'This server has no sources API yet.')
        : srcList.length ? table(['Name', 'Kind', 'State', 'Lag', 'Received', 'Dead letters'], srcList.map((s) => [
          h('details', {}, h('summary', {}, s.name), json(s)), s.kind || '', s.state || s.status || '',
          s.lag != null ? String(s.lag) : String(stat(s.name, 'lag') || ''),
          String(s.received ?? stat(s.name, 'received')), String(s.deadLetters ?? stat(s.name, 'dead'))]))
          : h('p', { class: 'muted' }, 'No sources.')),
      section('Trigger rules', trgList == null ? h('p', { class: 'muted' }, 'This server has no triggers API yet.')
        : trgList.length ? table(['Name', 'Workflow', 'Pattern'], trgList.map((t) => [t.name, link(`/workflows/${t.workflow}`, t.workflow), json(t.pattern)]))
          : h('p', { class: 'muted' }, 'No rules.'))),
    section('Send a test event', h('p', { class: 'muted' }, 'A CloudEvent in structured mode; rules match it as they would an event from a source.'),
      event, h('div', { class: 'toolbar' }, h('button', { class: 'primary', id: 'send-event', onclick: send }, 'Send')),
      result, h('h2', {}, 'Executions started'), started),
    h('p', { class: 'muted' }, `Loaded ${fmtTime(new Date().toISOString())}`));
  drawStarted();
}
