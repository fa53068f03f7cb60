// `/executions`: filter by workflow, status and start time; pages come from
// the server (nextToken), so the list stays fast however many executions
// the store holds. The first page refreshes live.

import { get } from './api.js';
import { h, link, statusBadge, fmtTime, fmtMs, table, errorBox } from './ui.js';
import { onExecution, throttle } from './live.js';

const STATUSES = ['', 'RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'];

function toIso(local) {
  if (!local) return '';
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

export async function render(main) {
  const params = new URLSearchParams(location.search);
  const { workflows } = await get('/api/v1/workflows');
  const wfSel = h('select', { name: 'workflow', 'aria-label': 'workflow' },
    h('option', { value: '' }, 'all workflows'), workflows.map((w) => h('option', { value: w.name }, w.name)));
  wfSel.value = params.get('workflow') || '';
  const stSel = h('select', { name: 'status', 'aria-label': 'status' },
    STATUSES.map((s) => h('option', { value: s }, s || 'any status')));
  stSel.value = params.get('status') || '';
  const after = h('input', { type: 'datetime-local', name: 'after', 'aria-label': 'started after', value: params.get('after') || '' });
  const before = h('input', { type: 'datetime-local', name: 'before', 'aria-label': 'started before', value: params.get('before') || '' });
  const body = h('div');
  const pager = h('div', { class: 'toolbar' });
  const tokens = [null];
  let pageNo = 0;

  const query = () => {
    const q = new URLSearchParams({ limit: '50' });
    if (wfSel.value) q.set('workflow', wfSel.value);
    if (stSel.value) q.set('status', stSel.value);
    if (toIso(after.value)) q.set('startedAfter', toIso(after.value));
    if (toIso(before.value)) q.set('startedBefore', toIso(before.value));
    if (tokens[pageNo]) q.set('nextToken', tokens[pageNo]);
    return q;
  };
  const load = async () => {
    const t0 = performance.now();
    let page;
    try {
      page = await get(`/api/v1/executions?${query()}`);
    } catch (e) {
      body.replaceChildren(errorBox(e));
      return;
    }
    const took = performance.now() - t0;
    tokens[pageNo + 1] = page.nextToken;
    body.replaceChildren(page.executions.length
      ? table(['Execution', 'Workflow', 'Version', 'Status', 'Started', 'Duration'],
        page.executions.map((e) => [
          link(`/executions/${e.executionId}`, e.name), link(`/workflows/${encodeURIComponent(e.workflow)}`, e.workflow),
          `v${e.version}`, statusBadge(e.status), fmtTime(e.startedAt),
          e.stoppedAt ? fmtMs(Date.parse(e.stoppedAt) - Date.parse(e.startedAt)) : '']),
        { id: 'executions', 'data-count': page.executions.length })
      : h('p', { class: 'muted', id: 'executions', 'data-count': 0 }, 'No executions match.'));
    pager.replaceChildren(
      h('button', { disabled: pageNo === 0, onclick: () => { pageNo--; load(); } }, '← Newer'),
      h('span', { class: 'muted' }, `page ${pageNo + 1} · ${Math.round(took)} ms`),
      h('button', { disabled: !page.nextToken, onclick: () => { pageNo++; load(); } }, 'Older →'));
  };
  const apply = () => {
    const q = new URLSearchParams();
    for (const [k, el] of [['workflow', wfSel], ['status', stSel], ['after', after], ['before', before]]) {
      if (el.value) q.set(k, el.value);
    }
    history.replaceState(null, '', `/executions${q.toString() ? `?${q}` : ''}`);
    tokens.length = 1;
    pageNo = 0;
    load();
  };
  for (const el of [wfSel, stSel, after, before]) el.addEventListener('change', apply);
  main.replaceChildren(h('h1', {}, 'Executions'),
    h('section', { class: 'card' }, h('div', { class: 'toolbar' }, wfSel, stSel, 'started after', after, 'before', before), body, pager));
  await load();
  onExecution(throttle((u) => {
    if (pageNo !== 0) return;
    if (!u.resync && wfSel.value && u.workflow !== wfSel.value) return;
    load();
  }, 1000));
}
