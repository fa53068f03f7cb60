// `/functions`: deployed functions (GET /api/v1/functions) with whatever
// per-function series the executors export in /metrics (invocations, cold
// and warm starts, errors, durations, GB-seconds).

import { getOptional, metrics } from './api.js';
import { h, table, json, section } from './ui.js';

function perFunction(samples) {
  const by = new Map();
  for (const s of samples) {
    const f = s.labels.function;
    if (!f || !s.name.startsWith('sluice_function')) continue;
    const key = s.name.replace(/^sluice_functions?_/, '')
      + (s.labels.start ? `{${s.labels.start}}` : '') + (s.labels.quantile ? `{p${Number(s.labels.quantile) * 100}}` : '');
    if (!by.has(f)) by.set(f, new Map());
    by.get(f).set(key, (by.get(f).get(key) || 0) + s.value);
  }
  return by;
}

/** The definition and, when the server keeps them, its recent logs. */
function details(f) {
  const logs = h('pre', { class: 'json' }, '…');
  const d = h('details', {}, h('summary', {}, f.name), json(f), h('h2', {}, 'Recent logs'), logs);
  d.addEventListener('toggle', async () => {
    if (!d.open) return;
    const r = await getOptional(`/api/v1/functions/${encodeURIComponent(f.name)}/logs`).catch(() => null);
    const lines = r == null ? null : Array.isArray(r) ? r : r.logs || r.lines || [];
    logs.textContent = lines == null ? 'This server keeps no function logs.'
      : lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') || '(none)';
  });
  return d;
}

export async function render(main) {
  const list = await getOptional('/api/v1/functions');
  if (list == null) {
    main.replaceChildren(h('h1', {}, 'Functions'),
      h('p', { class: 'muted', id: 'unavailable' }, 'This server has no functions API (GET /api/v1/functions answered 404).'));
    return;
  }
  const functions = Array.isArray(list) ? list : list.functions || [];
  const stats = perFunction(await metrics());
  const cols = [...new Set([...stats.values()].flatMap((m) => [...m.keys()]))].sort();
  main.replaceChildren(h('h1', {}, 'Functions'),
    functions.length ? section('Deployed functions', table(['Name', 'Runtime', 'Memory', 'Timeout', ...cols],
      functions.map((f) => [details(f), f.runtime || '', f.memoryMb ? `${f.memoryMb} MB` : '',
        f.timeoutSeconds ? `${f.timeoutSeconds} s` : '',
        ...cols.map((c) => { const v = stats.get(f.name)?.get(c); return v == null ? '' : String(Math.round(v * 1000) / 1000); })])))
      : h('p', { class: 'muted' }, 'No functions deployed.'));
}
