// `/workflows`: every workflow with its versions and aliases.

import { get } from './api.js';
import { h, link, fmtTime, table } from './ui.js';

function aliasText(aliases) {
  return Object.entries(aliases || {})
    .map(([a, routes]) => `${a} → ${routes.map((r) => `v${r.version}${r.weight < 100 ? ` ${r.weight}%` : ''}`).join(', ')}`)
    .join('; ');
}

export async function render(main) {
  const { workflows } = await get('/api/v1/workflows');
  main.replaceChildren(
    h('h1', {}, 'Workflows'),
    workflows.length
      ? h('section', { class: 'card' }, table(['Name', 'Type', 'Latest', 'Versions', 'Aliases', 'Updated', ''],
        workflows.map((w) => [
          link(`/workflows/${encodeURIComponent(w.name)}`, w.name), w.type || 'STANDARD', `v${w.latestVersion}`,
          w.versions.length > 8 ? `${w.versions.length} versions` : w.versions.map((v) => `v${v}`).join(' '),
          aliasText(w.aliases) || '—', fmtTime(w.updatedAt),
          link(`/executions?workflow=${encodeURIComponent(w.name)}`, 'executions')])))
      : h('p', { class: 'muted' }, 'No workflows yet: deploy one with `sluice apply -f DIR` or PUT /api/v1/workflows/{name}.'));
}
