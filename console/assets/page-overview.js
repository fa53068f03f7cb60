// `/`: executions by status, top failing workflows, recent executions, and
// the rates of every event and function counter the server exports in
// /metrics (sources and executors add theirs; this page draws whatever is there).

import { get, metrics } from './api.js';
import { h, link, statusBadge, fmtTime, table, section, bars, sparkline } from './ui.js';
import { onExecution, throttle } from './live.js';

const POLL_MS = 5000;
const KEEP = 36;

function counterGroups(samples) {
  const sums = new Map();
  for (const s of samples) {
    if (!/^sluice_(events?|functions?|rules?|sources?|invocations?)_.*total$/.test(s.name)) continue;
    sums.set(s.name, (sums.get(s.name) || 0) + s.value);
  }
  return sums;
}

export async function render(main) {
  const counts = h('div');
  const failing = h('div');
  const recent = h('div');
  const rates = h('div', { class: 'grid' });
  main.replaceChildren(
    h('h1', {}, 'Overview'),
    h('div', { class: 'grid' },
      section('Executions by status', counts),
      section('Top failing workflows', failing)),
    section('Events and functions (per second)', rates),
    section('Recent executions', recent));

  const refresh = async () => {
    const [summary, page] = await Promise.all([
      get('/api/v1/summary'), get('/api/v1/executions?limit=10')]);
    const by = summary.executions;
    counts.replaceChildren(
      h('div', { class: 'stat', 'data-total': summary.total }, `${summary.total} executions`),
      h('p', { class: 'muted' }, `${summary.workflows} workflows`),
      bars(Object.entries(by).map(([s, v]) => ({ label: s, value: v, class: `s-${s.toLowerCase()}` }))));
    failing.replaceChildren(summary.topFailing.length
      ? table(['Workflow', 'Failed'], summary.topFailing.map((f) =>
        [link(`/executions?workflow=${encodeURIComponent(f.workflow)}&status=FAILED`, f.workflow), String(f.failed)]))
      : h('p', { class: 'muted' }, 'No failed executions.'));
    recent.replaceChildren(table(['Execution', 'Workflow', 'Status', 'Started'],
      page.executions.map((e) => [link(`/executions/${e.executionId}`, e.name), link(`/workflows/${e.workflow}`, e.workflow),
        statusBadge(e.status), fmtTime(e.startedAt)])));
  };
  await refresh();
  onExecution(throttle(() => refresh().catch(() => {}), 1000));

  const history = new Map();
  let last = null;
  const poll = async () => {
    const now = performance.now();
    const sums = counterGroups(await metrics());
    if (last) {
      const secs = (now - last.at) / 1000;
      for (const [name, v] of sums) {
        const series = history.get(name) || [];
        series.push(Math.max(0, (v - (last.sums.get(name) || 0)) / secs));
        if (series.length > KEEP) series.shift();
        history.set(name, series);
      }
    }
    last = { at: now, sums };
    if (!sums.size) {
      rates.replaceChildren(h('p', { class: 'muted' },
        'No event or function counters in /metrics yet (they appear once sources and executors run).'));
      return;
    }
    rates.replaceChildren(...[...sums.keys()].sort().map((name) => {
      const series = history.get(name) || [0];
      return h('div', { class: 'rate', 'data-metric': name },
        h('div', { class: 'muted' }, name.replace(/^sluice_/, '').replace(/_total$/, '')),
        h('div', { class: 'stat' }, series[series.length - 1].toFixed(2)),
        sparkline(series, name));
    }));
  };
  await poll();
  setInterval(() => poll().catch(() => {}), POLL_MS);
}
