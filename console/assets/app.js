// The console's entry point: picks the page for the path. Every page is a
// module exporting `render(main, params)`; the server answers every console
// path with the same index.html.

const routes = [
  [/^\/$/, './page-overview.js'],
  [/^\/workflows\/?$/, './page-workflows.js'],
  [/^\/workflows\/([^/]+)$/, './page-workflow.js'],
  [/^\/executions\/?$/, './page-executions.js'],
  [/^\/executions\/([^/]+)$/, './page-execution.js'],
  [/^\/functions\/?$/, './page-functions.js'],
  [/^\/sources\/?$/, './page-sources.js'],
  [/^\/login\/?$/, './page-login.js'],
];

async function main() {
  const path = location.pathname;
  const main = document.getElementById('main');
  for (const a of document.querySelectorAll('nav a[data-nav]')) {
    const href = a.getAttribute('href');
    if (href === '/' ? path === '/' : path.startsWith(href)) a.classList.add('active');
  }
  for (const [re, module] of routes) {
    const m = path.match(re);
    if (!m) continue;
    const page = await import(module);
    try {
      await page.render(main, m.slice(1).map(decodeURIComponent));
    } catch (e) {
      const { errorBox } = await import('./ui.js');
      main.replaceChildren(errorBox(e));
    }
    return;
  }
  main.textContent = `No page at ${path}.`;
}

main();
