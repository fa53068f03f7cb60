// Live updates: one EventSource on /api/v1/stream shared by the page. The
// server sends an `execution` event ({executionId, workflow, status,
// startedAt, stoppedAt}) whenever a committed batch changed an execution or
// its history. EventSource reconnects by itself after a drop.

const listeners = new Set();
let source = null;

function connect() {
  source = new EventSource('/api/v1/stream');
  source.addEventListener('execution', (msg) => {
    let data;
    try { data = JSON.parse(msg.data); } catch { return; }
    for (const f of listeners) {
      try { f(data); } catch (e) { console.error(e); }
    }
  });
  // Missed updates: tell every listener something changed.
  source.addEventListener('resync', () => {
    for (const f of listeners) {
      try { f({ resync: true }); } catch (e) { console.error(e); }
    }
  });
  source.addEventListener('open', () => setIndicator(true));
  source.addEventListener('error', () => setIndicator(false));
}

function setIndicator(on) {
  const dot = document.getElementById('live');
  if (dot) {
    dot.dataset.live = on ? 'on' : 'off';
    dot.title = on ? 'live updates on' : 'live updates reconnecting';
  }
}

/** Call `f(update)` for every execution update until the returned function is called. */
export function onExecution(f) {
  if (!source) connect();
  listeners.add(f);
  return () => listeners.delete(f);
}

/** Run `f` at most once per `ms`, the last call winning (for refetches). */
export function throttle(f, ms) {
  let timer = null;
  let again = false;
  return (...args) => {
    if (timer) { again = true; return; }
    f(...args);
    timer = setTimeout(() => {
      timer = null;
      if (again) { again = false; f(...args); }
    }, ms);
  };
}
